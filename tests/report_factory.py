"""Realistic RunResults for report tests and the report benchmark.

``make_run(n)`` builds a fleet of ``n`` hosts that cycles through every verdict (Windows and edge) and every
host outcome, with evidence shaped like the real checks' (a ``.wslconfig`` listing with line numbers and
parser warnings, listener rows, transcripts). ``hostile=True`` adds a host whose name, messages and evidence
carry markup and control characters, plus a secret that the report writers must drop.
``make_remediation_run(n)`` builds an ``auditor remediate`` run (tasks changed / ok / failed / skipped, diffs,
backups, loop items), optionally in check mode.
"""

from __future__ import annotations

import difflib
from datetime import datetime, timedelta, timezone
from pathlib import PurePath
from typing import Any

from auditor.results import (
    CheckResult,
    CheckStatus,
    CollectorResult,
    Confidence,
    HostResult,
    HostStatus,
    PlaybookRef,
    PlayResult,
    RunOptionsRecord,
    RunResult,
    Severity,
    TaskResult,
    TaskStatus,
    Timings,
    Verdict,
)
from auditor.rules import catalogue_of

#: What a payload does if it ever runs: set this window flag and log this console message.
PWNED_FLAG = "__auditorPwned"
PWNED_LOG = "AUDITOR-PWNED"
SCRIPT_PAYLOAD = f"<script>window.{PWNED_FLAG}=1;console.log('{PWNED_LOG}')</script>"
IMG_PAYLOAD = f"<img src=x onerror=\"window.{PWNED_FLAG}=2;console.log('{PWNED_LOG}')\">"
BREAKOUT_PAYLOAD = f"</script><!--<script>window.{PWNED_FLAG}=3</script>"
HOSTILE_NAME = f"evil{SCRIPT_PAYLOAD}"
SECRET_VALUE = "tok-SECRET-d0-not-leak"

WINDOWS_VERDICTS = [
    "CONFLICT_CONFIRMED", "AT_RISK_MIRRORED_DOCKER", "AT_RISK_LATENT", "HEALTHY_NAT",
    "MIRRORED_WITHOUT_DOCKER", "NO_WSL_OR_NO_DOCKER", "INCONCLUSIVE",
]
EDGE_VERDICTS = ["EDGE_NO_LAN_VISIBILITY", "EDGE_NOT_HOST_NETWORK", "EDGE_WSL_NAT", "EDGE_OK", "INCONCLUSIVE"]
DOWN_STATUSES = [HostStatus.unreachable, HostStatus.auth_failed, HostStatus.timed_out, HostStatus.error]
DOWN_ERRORS = {
    HostStatus.unreachable: "connect to 10.20.0.{i}:5986 failed: Connection refused",
    HostStatus.auth_failed: "WinRM rejected the credentials (HTTP 401)",
    HostStatus.timed_out: "host deadline of 60 s reached while gathering",
    HostStatus.error: "collector output was not valid: missing end marker",
}
#: (platform, verdict or None, host status when down) for every case the fleet cycles through.
SCENARIOS: list[tuple[str, str | None, HostStatus | None]] = (
    [("windows", v, None) for v in WINDOWS_VERDICTS]
    + [("linux", v, None) for v in EDGE_VERDICTS]
    + [("windows" if n % 2 == 0 else "linux", None, s) for n, s in enumerate(DOWN_STATUSES)]
)

START = datetime(2026, 11, 21, 8, 0, 0, tzinfo=timezone.utc)

REMEDIATION_NAT = [
    "Open %USERPROFILE%\\.wslconfig of the Docker Desktop user.",
    "Under [wsl2] set networkingMode=nat (or comment out the networkingMode line with #).",
    "Quit Docker Desktop, run `wsl --shutdown`, then start Docker Desktop again.",
    "Re-run the audit: W-NET-01 must pass.",
]
REMEDIATION_EDGE = [
    "Move the edge node to Docker Engine on a native Linux host.",
    "Run the edge container with network_mode: host.",
    "Re-run the edge audit: L-EDGE-02 must pass.",
]


def _check(cid: str, title: str, sev: Severity, status: CheckStatus, message: str = "",
           evidence: dict[str, Any] | None = None, remediation: str | None = None) -> CheckResult:
    return CheckResult(id=cid, title=title, severity=sev, status=status, message=message,
                       evidence=evidence or {}, remediation=remediation, duration_ms=1.5,
                       tags=[cid.split("-")[1].lower()], refs=["docs/research/domain.md"])


def wslconfig_evidence(mode: str, user: str) -> dict[str, Any]:
    """Evidence as W-CFG-02 reports it: the parsed file's lines with numbers, and parser warnings."""
    lines = [
        "# managed by IT", "[wsl2]", "memory=8GB", f"networkingMode={mode}", "hostAddressLoopback=true",
        "; old comment style", "[experimental]", "autoMemoryReclaim=gradual", f"networkingMode=nat",
    ]
    return {
        "profile": f"C:\\Users\\{user}\\.wslconfig",
        "user": f"CORP\\{user}",
        "encoding": "utf-8",
        "section_used": "wsl2",
        "networkingMode": mode,
        "lines": [{"n": n, "text": text} for n, text in enumerate(lines, start=1)],
        "warnings": [  # the shape of auditor.mirrored's ParserWarning.to_dict()
            {"code": "unknown-key", "line": 5, "key": "wsl2.hostAddressLoopback", "fatal": False, "source": "wsl",
             "message": "hostAddressLoopback is an [experimental] key; WSL ignores it under [wsl2]"},
            {"code": "expected", "line": 6, "key": None, "fatal": False, "source": "wsl",
             "message": "';' does not start a comment in .wslconfig"},
            {"code": "duplicate-key", "line": 9, "key": "experimental.networkingMode", "fatal": False, "source": "auditor",
             "message": "networkingMode under [experimental] is ignored"},
        ],
    }


def _windows_checks(verdict: str, user: str) -> list[CheckResult]:
    P, F, E, S, NA = (CheckStatus.passed, CheckStatus.failed, CheckStatus.error,
                      CheckStatus.skipped, CheckStatus.not_applicable)
    mirrored = verdict in ("CONFLICT_CONFIRMED", "AT_RISK_MIRRORED_DOCKER", "AT_RISK_LATENT", "MIRRORED_WITHOUT_DOCKER")
    has_dd = verdict not in ("MIRRORED_WITHOUT_DOCKER", "NO_WSL_OR_NO_DOCKER")
    latent = verdict == "AT_RISK_LATENT"
    conflict = verdict == "CONFLICT_CONFIRMED"
    inconclusive = verdict == "INCONCLUSIVE"
    cfg = wslconfig_evidence("mirrored" if mirrored else "nat", user)
    return [
        _check("W-OS-01", "Windows build supports mirrored", Severity.info, P,
               f"build 2263{1 if not latent else 0}.2861: mirrored {'un' if latent else ''}supported",
               {"build": 22631, "ubr": 2861, "DisplayVersion": "23H2", "Caption": "Microsoft Windows 11 Enterprise"}),
        _check("W-WSL-01", "WSL package present and version", Severity.medium, P if has_dd else NA,
               "WSL 2.3.26.0 (Store)", {"version": "2.3.26.0", "source": "MSI registry"}),
        _check("W-CFG-01", ".wslconfig readable by WSL", Severity.low, P, "UTF-8, 214 bytes",
               {"encoding": "utf-8", "sha256": "9f2c" * 16, "size": 214}),
        _check("W-CFG-02", "Configured networking mode", Severity.high, F if mirrored and has_dd else P,
               f"networkingMode={cfg['networkingMode']} in [wsl2] of {cfg['profile']}", cfg,
               remediation="Set networkingMode=nat under [wsl2]; then wsl --shutdown."),
        _check("W-CFG-03", "Misplaced or ineffective keys", Severity.low, F,
               "3 keys are ignored by WSL", {"issues": [
                   {"line": 5, "kind": "unknown-key", "text": "unknown key 'wsl2.hostAddressLoopback' (it is an [experimental]-only key): WSL ignores it"},
                   {"line": 6, "kind": "expected", "text": "Expected '=' in C:\\Users\\dev\\.wslconfig:6"},
               ]}),
        _check("W-CFG-04", "Relevant profile identified", Severity.medium, E if inconclusive else P,
               "two profiles have Docker Desktop settings and Docker Desktop is not running" if inconclusive
               else f"Docker Desktop runs as CORP\\{user}",
               {"candidates": [f"CORP\\{user}", "CORP\\admin"]} if inconclusive else {"owner": f"CORP\\{user}", "sid": "S-1-5-21-1-2-3-1001"}),
        _check("W-DD-02", "Docker Desktop uses the WSL2 backend", Severity.high, P if has_dd else NA,
               "wslEngineEnabled=true" if has_dd else "Docker Desktop not installed",
               {"WslEngineEnabled": True, "locked": False} if has_dd else {}),
        _check("W-NET-01", "Published ports have a Windows listener", Severity.high,
               F if conflict else (P if has_dd else NA),
               "port 8080 published by web-1 has no Windows listener" if conflict else "all published ports have listeners",
               {"containers": [{"name": "web-1", "port": 8080, "listeners": [] if conflict else [
                   {"address": "0.0.0.0", "port": 8080, "process": "com.docker.backend", "pid": 4312}]}]}),
        _check("W-NET-02", "WSL warnings in the event log", Severity.medium, F if latent else P,
               "Mirrored networking mode is not supported: falling back to NAT" if latent else "no WSL warnings",
               {"events": [{"time": "2026-11-20T17:02:11Z", "message": "Mirrored networking mode is not supported"}]}
               if latent else {"events": []}),
        _check("W-PROBE-01", "Active publish probe", Severity.critical, F if conflict else S,
               "probe container published 127.0.0.1:49152 but nothing answered" if conflict else "probe not opted in",
               {"transcript": "docker run -d -p 49152:80 nginx\n3f1e...\ncurl http://127.0.0.1:49152\n"
                "curl: (7) Failed to connect to 127.0.0.1 port 49152: Connection refused\n",
                "cleanup": "removed"} if conflict else {}),
    ]


def _edge_checks(verdict: str) -> list[CheckResult]:
    P, F, E, W = CheckStatus.passed, CheckStatus.failed, CheckStatus.error, CheckStatus.skipped
    desktop = verdict == "EDGE_NO_LAN_VISIBILITY"
    bridge = verdict == "EDGE_NOT_HOST_NETWORK"
    wsl_nat = verdict == "EDGE_WSL_NAT"
    inconclusive = verdict == "INCONCLUSIVE"
    return [
        _check("L-OS-01", "Host kind", Severity.info, P, "native" if not wsl_nat else "WSL2 distro",
               {"uname": "6.1.0-27-amd64" if not wsl_nat else "5.15.167.4-microsoft-standard-WSL2"}),
        _check("L-DK-01", "Engine kind", Severity.high, E if inconclusive else (F if desktop else P),
               "cannot connect to the Docker daemon" if inconclusive else
               ("Docker Desktop" if desktop else "Docker Engine 27.3.1"),
               {"OperatingSystem": "Docker Desktop" if desktop else "Debian GNU/Linux 12 (bookworm)"}),
        _check("L-EDGE-01", "Edge container network mode", Severity.medium, F if bridge else P,
               "bridge" if bridge else "host", {"NetworkMode": "bridge" if bridge else "host"}),
        _check("L-EDGE-02", "Edge container sees the LAN", Severity.high, F if desktop else P,
               "container addresses are all in 192.168.65.0/24" if desktop else "container sees 10.20.1.7",
               {"container": ["192.168.65.3"] if desktop else ["10.20.1.7"], "host": ["10.20.1.7"]}),
        _check("L-WSL-01", "WSL-hosted edge node mode", Severity.medium, F if wsl_nat else W,
               "WSL distro in NAT mode" if wsl_nat else "not a WSL distro", {}),
    ]


def _verdict(name: str, windows: bool) -> Verdict:
    steps = REMEDIATION_NAT if name in ("CONFLICT_CONFIRMED", "AT_RISK_MIRRORED_DOCKER", "AT_RISK_LATENT") else (
        REMEDIATION_EDGE if name.startswith("EDGE_") and name != "EDGE_OK" else [])
    decided = {"CONFLICT_CONFIRMED": ["W-PROBE-01", "W-NET-01", "W-CFG-02"],
               "AT_RISK_MIRRORED_DOCKER": ["W-DD-02", "W-CFG-02", "W-OS-01"],
               "AT_RISK_LATENT": ["W-CFG-02", "W-NET-02"],
               "EDGE_NO_LAN_VISIBILITY": ["L-DK-01", "L-EDGE-02"]}.get(name, ["W-CFG-02"] if windows else ["L-DK-01"])
    confidence = {"CONFLICT_CONFIRMED": Confidence.high, "INCONCLUSIVE": Confidence.low}.get(name, Confidence.medium)
    return Verdict(name=name, confidence=confidence, decided_by=decided, summary=f"{name.replace('_', ' ').lower()}",
                   remediation=list(steps), notes=["W-OS-01 rests on a build-number prediction"] if windows else [])


def make_host(i: int, platform: str, verdict: str | None, down: HostStatus | None) -> HostResult:
    """One host of the fleet; ``down`` makes it end in that outcome with no checks."""
    windows = platform == "windows"
    name = f"{'win' if windows else 'edge'}-{i:05d}"
    started = START + timedelta(milliseconds=37 * i)
    host = HostResult(
        id=name, name=name, address=f"10.20.{i // 250}.{i % 250 + 1}", port=5986 if windows else 22,
        connection="winrm" if windows else "ssh", platform=platform,
        groups=(["windows", "devs", f"site{i % 3}"] if windows else ["edge", f"site{i % 3}"]),
        status=HostStatus.ok, started=started, finished=started + timedelta(seconds=2),
        timings=Timings(connect_ms=80, gather_ms=1400, checks_ms=12, total_ms=1492),
    )
    if down is not None:
        host.status = down
        host.error = DOWN_ERRORS[down].format(i=i % 250)
        return host
    assert verdict is not None
    checks = _windows_checks(verdict, f"dev{i:05d}") if windows else _edge_checks(verdict)
    play = PlayResult(
        play="WSL2 mirrored networking and Docker Desktop" if windows else "Edge node LAN visibility",
        playbook="playbooks/mirrored-audit.yml" if windows else "playbooks/edge-audit.yml",
        platform=platform, checks=checks, verdict=_verdict(verdict, windows),
        collectors=[CollectorResult(name="audit", rc=0, duration_ms=1400, stdout_bytes=18234)],
    )
    host.plays = [play]
    if any(c.status in (CheckStatus.failed, CheckStatus.error) for c in checks):
        host.status = HostStatus.failed
    return host


def make_hostile_host(i: int) -> HostResult:
    """A conflicted Windows host whose name, output and evidence hold markup, control bytes and a secret."""
    host = make_host(i, "windows", "CONFLICT_CONFIRMED", None)
    host.id = host.name = HOSTILE_NAME
    host.groups = ["windows", f"grp{IMG_PAYLOAD}"]
    check = host.plays[0].checks[0]
    check.message = f"remote said: {IMG_PAYLOAD} {SCRIPT_PAYLOAD}"
    check.evidence = {
        "stdout": f"line one\n{BREAKOUT_PAYLOAD}\n{IMG_PAYLOAD}\nbell\x07 nul\x00 esc\x1b[31m red",
        "nested": {"html": SCRIPT_PAYLOAD, "items": [IMG_PAYLOAD, BREAKOUT_PAYLOAD]},
        f"key{IMG_PAYLOAD}": "a key that is markup",
        "proxy": {"url": "http://proxy.corp:3128", "auth_token": SECRET_VALUE},
        "winrm_password": SECRET_VALUE,
    }
    cfg = host.plays[0].checks[3].evidence
    cfg["lines"].append({"n": 10, "text": f"# {SCRIPT_PAYLOAD}"})
    cfg["warnings"].append({"line": 10, "message": f"unknown text {IMG_PAYLOAD}"})
    verdict = host.plays[0].verdict
    assert verdict is not None
    verdict.summary = f"summary {BREAKOUT_PAYLOAD}"
    verdict.remediation = [f"step with {SCRIPT_PAYLOAD}", *verdict.remediation]
    host.plays[0].error = None
    host.plays[0].collectors[0].error = f"stderr: {IMG_PAYLOAD}"
    return host


def _ref(path: str) -> PlaybookRef:
    return PlaybookRef(path=path, id=PurePath(path).stem, sha256="0" * 64)


def _finish(run: RunResult) -> None:
    """What the runner does at the end: the summary, and the catalogue of the verdicts used."""
    run.compute_summary()
    run.verdict_catalogue = catalogue_of(run.summary.by_verdict)


def make_run(n_hosts: int = 24, hostile: bool = True, run_id: str = "20261121T080000Z-3f9a") -> RunResult:
    """A finished audit run over ``n_hosts`` hosts (cycling every scenario); see the module docstring."""
    hosts = [make_host(i, *SCENARIOS[i % len(SCENARIOS)]) for i in range(n_hosts)]
    if hostile and hosts:
        hosts[-1] = make_hostile_host(n_hosts - 1)
    run = RunResult(
        run_id=run_id, auditor_version="0.1.0", started=START, finished=START + timedelta(seconds=42.5),
        playbooks=[_ref("playbooks/mirrored-audit.yml"), _ref("playbooks/edge-audit.yml")],
        inventory_sources=["inventories/corp/hosts.ini", "inventories/corp/group_vars/"],
        limit="site0:site1" if n_hosts > 100 else None,
        options=RunOptionsRecord(forks=50, command_timeout=60),
        hosts=hosts,
    )
    _finish(run)
    return run


# --- remediation runs (`auditor remediate`) ------------------------------------------------------------

REVERT_PLAY = "Revert WSL to NAT networking (Windows)"
EARLIER_FAILED = "an earlier task failed"
#: How each remediation host ends, cycled through by ``make_remediation_run``.
REMEDIATION_CASES = ["fixed", "already", "failed", "two_users", "unreachable"]


def wslconfig_diff(path: str, before: list[str], after: list[str]) -> str:
    """A unified diff in the shape the ``wslconfig`` module reports."""
    lines = difflib.unified_diff(before, after, f"before: {path}", f"after: {path}", lineterm="")
    return "\n".join(lines) + "\n"


def _edit_task(user: str, check_mode: bool, status: TaskStatus, message: str) -> TaskResult:
    path = f"C:\\Users\\{user}\\.wslconfig"
    before = ["[wsl2]", "memory=8GB", "networkingMode=mirrored", "dnsTunneling=true"]
    after = ["[wsl2]", "memory=8GB", "#networkingMode=mirrored", "dnsTunneling=true"]
    edits = status in (TaskStatus.changed, TaskStatus.failed)
    backup = f"C:\\Users\\{user}\\wslconfig-20261121T080012Z.bak" if edits and not check_mode else None
    return TaskResult(name="Comment out networkingMode in .wslconfig", module="wslconfig", status=status,
                      message=message.format(path=path), check_mode=check_mode,
                      diff=wslconfig_diff(path, before, after) if edits else None, backup_path=backup,
                      loop_item=f"CORP\\{user}", duration_ms=12.5)


def _restart_tasks(user: str, check_mode: bool, status: TaskStatus, message: str) -> list[TaskResult]:
    return [TaskResult(name=name, module=module, status=status, message=message.format(user=user),
                       check_mode=check_mode, loop_item=f"CORP\\{user}" if status != TaskStatus.skipped else None)
            for name, module in (("Restart the user's WSL VM", "wsl_restart"),
                                 ("Restart Docker Desktop of its owner", "docker_desktop_restart"))]


def remediation_tasks(case: str, user: str, check_mode: bool) -> list[TaskResult]:
    """The tasks of one host of the revert-to-NAT playbook, ending as ``case`` (see ``REMEDIATION_CASES``)."""
    ch = TaskStatus.changed
    would = "would be commented out" if check_mode else "commented out"
    if case == "fixed":
        return [_edit_task(user, check_mode, ch, would + ": networkingMode in [wsl2] of {path} (UTF-8, CRLF)"),
                *_restart_tasks(user, check_mode, ch, "would restart {user}'s WSL VM" if check_mode
                                else "restarted {user}'s WSL VM through a one-shot scheduled task")]
    if case == "already":
        return [_edit_task(user, check_mode, TaskStatus.ok, "already as wanted: {path}"),
                *_restart_tasks(user, check_mode, TaskStatus.skipped, "when: item.changed is false")]
    if case == "failed":
        return [_edit_task(user, check_mode, TaskStatus.failed,
                           "could not replace {path}: The process cannot access the file; NOT changed"),
                *_restart_tasks(user, check_mode, TaskStatus.skipped, EARLIER_FAILED)]
    if case == "two_users":
        return [_edit_task(u, check_mode, ch, would + ": networkingMode in [wsl2] of {path} (UTF-16LE with BOM, CRLF)")
                for u in (user, f"{user}-admin")]
    raise ValueError(f"unknown remediation case {case!r}")


def make_remediation_run(n_hosts: int = 10, check_mode: bool = False, hostile: bool = False,
                         run_id: str = "20261121T090000Z-7c1e") -> RunResult:
    """A finished ``auditor remediate`` run over Windows hosts cycling through ``REMEDIATION_CASES``."""
    hosts = []
    for i in range(n_hosts):
        case = REMEDIATION_CASES[i % len(REMEDIATION_CASES)]
        host = make_host(i, "windows", None, HostStatus.unreachable) if case == "unreachable" else \
            make_host(i, "windows", "HEALTHY_NAT", None)
        if case != "unreachable":
            tasks = remediation_tasks(case, f"dev{i:05d}", check_mode)
            host.plays = [PlayResult(play=REVERT_PLAY, playbook="playbooks/remediate-revert-nat.yml",
                                     platform="windows", tasks=tasks)]
            host.status = HostStatus.failed if case == "failed" else HostStatus.ok
        hosts.append(host)
    if hostile and hosts:
        host = hosts[0]
        task = host.plays[0].tasks[0]
        task.message = f"remote said: {IMG_PAYLOAD}"
        task.diff = (task.diff or "") + f"+{SCRIPT_PAYLOAD}\n-{BREAKOUT_PAYLOAD}\n"
        task.loop_item = f"CORP\\{IMG_PAYLOAD}"
    run = RunResult(
        run_id=run_id, kind="remediation", auditor_version="0.1.0", started=START,
        finished=START + timedelta(seconds=7.25), playbooks=[_ref("playbooks/remediate-revert-nat.yml")],
        inventory_sources=["inventories/corp/hosts.ini"], limit="windows",
        options=RunOptionsRecord(forks=100, check_mode=check_mode, enabled=["restart"]),
        hosts=hosts,
    )
    _finish(run)
    return run
