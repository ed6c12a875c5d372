"""The Windows verdict rules (docs/research/domain.md section 8, issue 13): what is IN EFFECT decides, not what is configured.

``decide(facts)`` is pure over the ``mirrored.windows`` deriver's facts and returns the verdict and the fix it
calls for. The deriver stores the fix as ``facts.fix`` (the remediation playbooks act on it) and the verdict rule
(``verdicts.windows_verdict``) turns the decision into a ``Verdict``. First match wins; docs/checks.md lists
the rules in this order.

Which mode is in effect for the Docker Desktop user's VM ("live"):
  1. observed by the user-context opt-in (``wslinfo --networking-mode``, W-WSL-03);
  2. else, with the VM running: the mode it started with - the prediction when the file did not change since
     the start, or the prediction for auditor's backup of the earlier file when it did (W-CFG-05);
     unknown (None) when the file changed after the start and nothing says what the VM read;
  3. else (no VM running) the prediction for the next start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor.mirrored.shapes import as_dict, as_list

NOT_PROOF = ("'No Windows listener' alone is not proof that the port is unreachable in mirrored mode "
             "(inference, docs/research/domain.md 0.5(v)); confirm with --enable probe.")
PREDICTION = ("Effective mode is predicted from .wslconfig, policy, Windows build/UBR, WSL version and IPv6 settings, not "
              "observed; --enable user-context or --enable probe turn this into an observation.")
HOST_NET_NOTE = ("{n} container(s) ({names}) use network_mode: host on Docker Desktop: they see Docker Desktop's VM "
                 "subnet {subnet}, never the Windows LAN interfaces (W-DD-05).")


@dataclass
class Decision:
    name: str
    confidence: str
    decided_by: list[str]
    summary: str
    remediation: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fix: dict[str, Any] = field(default_factory=lambda: {"kind": "none", "edits": [], "user": None})


def _short(user: Any) -> str:
    return str(user or "").replace("/", "\\").rsplit("\\", 1)[-1]


def _restart_step(who: str, docker: bool) -> str:
    tail = ", then restart Docker Desktop (its engine distro starts the VM again with the new settings)" if docker else ""
    return (f"Restart {who}'s WSL VM as {who}: `wsl --shutdown` run by that user{tail}. The WinRM admin's own wsl --shutdown "
            "does not touch it; Restart-Service WSLService stops every user's VM.")


def _edit_step(path: str, line: str = "") -> str:
    return (f"In {path}{line} comment out networkingMode=mirrored with '#' (not ';') or set networkingMode=nat under [wsl2]; "
            "remove any [experimental] networkingMode too (the first occurrence wins). Keep the file's encoding; keep a backup.")


def _policy_text(f: dict[str, Any]) -> str:
    pol = as_dict(f.get("wsl_policy"))
    blocked = pol.get("allow_networking_mode_user_setting") == 0
    return ("machine policy HKLM\\SOFTWARE\\Policies\\WSL DefaultNetworkingMode=3 (mirrored)"
            + (" with AllowNetworkingModeUserSetting=0, which overrides the user's own networkingMode" if blocked else ""))


def _policy_steps(f: dict[str, Any], who: str) -> list[str]:
    blocked = as_dict(f.get("wsl_policy")).get("allow_networking_mode_user_setting") == 0
    edit = ("editing .wslconfig cannot help: the policy overrides the user's networkingMode." if blocked else
            "commenting out networkingMode in .wslconfig cannot help (the policy default applies when the file sets "
            f"nothing); while the policy allows user settings, an explicit networkingMode=nat under [wsl2] in {who}'s "
            ".wslconfig overrides it for that user only.")
    return [
        f"Change the {_policy_text(f)}: set DefaultNetworkingMode=1 (NAT) in the GPO/Intune ADMX that sets it "
        "(or playbooks/remediate-force-nat-policy.yml); " + edit,
        _restart_step(who, True) + " The policy applies at the VM's next start.",
        "Verify: re-run the audit with --enable probe (published port answers on 127.0.0.1 and the LAN IPv4).",
    ]


def _nat_steps(f: dict[str, Any], prof: dict[str, Any], docker: bool) -> list[str]:
    who = _short(prof.get("account") or prof.get("user")) or "the Docker Desktop user"
    path = prof.get("path") or "%USERPROFILE%\\.wslconfig"
    line = f" (line {prof['mode_line']}, written as {prof.get('mode_key')})" if prof.get("mode_line") else ""
    steps = [_edit_step(path, line), _restart_step(who, docker)]
    if docker:
        ports = as_dict(f.get("published_ports")).get("ports") or []
        alt = ",".join(str(p) for p in ports) or "<the ports Docker Desktop publishes>"
        steps += ["Verify: re-run the audit with --enable probe (published port answers on 127.0.0.1 and the LAN IPv4).",
                  f"If {who} needs mirrored for other distros: instead add [experimental] ignoredPorts={alt} (mirrored only, "
                  "needs a WSL restart), or switch Docker Desktop to the Hyper-V backend (Pro/Enterprise; images are not migrated).",
                  "Fleet-wide: policy HKLM\\SOFTWARE\\Policies\\WSL DefaultNetworkingMode=1 + AllowNetworkingModeUserSetting=0 "
                  "(ADMX; applies to Store WSL)."]
    return steps


class _Ctx:
    """The facts the rules read, named once."""

    def __init__(self, f: dict[str, Any]) -> None:
        self.f = f
        self.rel = as_dict(f.get("relevant"))
        self.dd = as_dict(f.get("docker_desktop"))
        self.pub = as_dict(f.get("published_ports"))
        self.pending = as_dict(f.get("pending_restart"))
        self.observed = as_dict(f.get("effective_observed")).get("mode")
        self.probe = as_dict(f.get("probe_result"))
        self.warn = as_dict(f.get("wsl_warnings"))
        self.dd_wsl2 = bool(self.dd.get("installed")) and self.dd.get("wsl2_backend") is not False \
            and not self.dd.get("windows_containers")
        self.who = _short(self.rel.get("account") or self.rel.get("user")) or "the Docker Desktop user"
        self.base = "medium" if self.rel.get("identified") else "low"
        self.rel_cfg: dict[str, Any] = next((c for c in as_list(f.get("profile_configs")) if c.get("sid") == self.rel.get("sid")),
                                            {}) if self.rel.get("sid") else {}
        self.next_mode = self.rel.get("effective_mode") or ("nat" if self.rel.get("identified") else None)
        self.live, self.live_source = self._live()
        self.missing = as_list(self.pub.get("missing")) if self.pub.get("docker_reachable") else []
        self.foreign = as_list(self.pub.get("foreign")) if self.pub.get("docker_reachable") else []
        self.notes: list[str] = []
        if self.dd_wsl2 and self.dd.get("wsl2_backend") is None:
            self.notes.append("Docker Desktop's backend could not be read; the WSL2 backend (the default) is assumed.")
        if self.rel.get("status") == "single-candidate":
            self.notes.append(f"Docker Desktop is not running; the relevant user was inferred: {self.rel.get('reason')}.")
        hn = as_dict(f.get("host_network_containers"))
        if hn.get("containers"):
            self.notes.append(HOST_NET_NOTE.format(n=len(hn["containers"]), names=", ".join(hn["containers"]),
                                                   subnet=hn.get("subnet")))

    def _live(self) -> tuple[str | None, str]:
        if self.observed:
            return self.observed, "observed (wslinfo, user context)"
        mode, source = self.next_mode, "predicted"
        if self.pending.get("vm_running") and self.pending.get("vm_count") == 1:
            if self.pending.get("started_mode"):
                mode, source = self.pending["started_mode"], "started with: " + str(self.pending.get("started_mode_source"))
            elif self.pending.get("pending"):
                return None, "the .wslconfig changed after the VM started and nothing says what the VM read"
        if mode == "mirrored" and self.warn.get("fallback"):
            return "nat", "WSL logged a mirrored-mode fallback warning (Application event log)"
        return mode, source

    @property
    def restart_pending(self) -> bool:
        """The running VM has other settings than its next start will have."""
        return bool(self.pending.get("pending")) and self.live is not None and self.live != self.next_mode

    def policy_mirrored(self) -> bool:
        return self.rel.get("mode_source") == "policy" and self.next_mode == "mirrored"

    def why_not_mirrored(self) -> str:
        """Why mirrored is not in effect for the Docker Desktop user's VM, in words."""
        why: list[str] = []
        if self.observed and self.observed != "mirrored":
            why.append(f"{self.who}'s VM runs in {self.observed} mode (observed)")
        for a in as_list(self.rel.get("adjustments")):
            if a.get("setting") == "wsl2.networkingMode" and a.get("reason"):
                why.append(str(a["reason"]))
        if self.rel.get("configured_mode") == "mirrored" and self.warn.get("fallback"):
            why.append("WSL logged a mirrored-mode fallback warning")
        if not why:
            why.append(f"{self.who}'s VM runs in {self.live or self.next_mode or 'nat'} mode; mirrored is not configured for it")
        return "; ".join(why)

    def steps_for_live_mirrored(self) -> tuple[list[str], dict[str, Any]]:
        """The fix when the Docker Desktop user's VM is mirrored now (or will be at its next start)."""
        if self.policy_mirrored():
            return _policy_steps(self.f, self.who), {"kind": "policy", "edits": [], "user": self.rel.get("account")}
        if self.next_mode != "mirrored":   # the file is already fixed: only the running VM is left
            steps = [f"Restart pending: {_restart_step(self.who, True)} The .wslconfig no longer sets mirrored; the VM "
                     "still runs the settings it started with."]
            return steps, {"kind": "restart", "edits": [], "user": self.rel.get("account")}
        edit = {"account": self.rel.get("account"), "path": self.rel.get("path")}
        return _nat_steps(self.f, {**self.rel_cfg, **self.rel}, True), {"kind": "revert-nat", "edits": [edit],
                                                                         "user": self.rel.get("account")}


def decide(f: dict[str, Any]) -> Decision:  # noqa: C901 - the rules, in order
    if not f.get("audit_ok"):
        err = as_dict(f.get("_errors")).get("audit") or "no audit facts"
        return Decision("INCONCLUSIVE", "low", [], f"The Windows audit collector gave nothing usable: {err}",
                        ["Check the WinRM account is a local administrator and re-run."])
    c = _Ctx(f)
    notes = c.notes
    mirrored_profiles = as_list(f.get("mirrored_profiles"))

    # 1. the active probe decided
    if c.probe.get("outcome") == "fail":
        reasons = "; ".join(c.probe.get("reasons") or [])
        if c.live in ("mirrored", None):
            steps, fix = c.steps_for_live_mirrored()
            return Decision("CONFLICT_CONFIRMED", "high", ["W-PROBE-01", "W-CFG-02", "W-DD-02"],
                            f"The active probe reproduced the conflict: {reasons}", steps, notes, fix)
        return Decision("PUBLISH_BROKEN_OTHER_CAUSE", "high", ["W-PROBE-01", "W-OS-01", "W-WSL-02", "W-WSL-03"],
                        f"The active probe's port was not published ({reasons}), but mirrored networking is not in effect "
                        f"({c.why_not_mirrored()}): another cause.", _other_cause_steps(c), notes)

    # 2. whose configuration matters is unknown
    if c.dd.get("installed") and not c.rel.get("identified") and (mirrored_profiles or f.get("effective_mirrored_profiles")):
        users = ", ".join(map(str, mirrored_profiles or f.get("effective_mirrored_profiles") or []))
        return Decision("INCONCLUSIVE", "low", ["W-CFG-04", "W-CFG-02"],
                        f"Docker Desktop's user is unknown ({c.rel.get('reason')}) and mirrored mode is configured for {users}.",
                        ["Re-run while the developer is logged on with Docker Desktop running, or with --enable user-context."], notes)
    if c.rel.get("identified") and any(str(p).startswith("could not read") for p in c.rel_cfg.get("file_problems", [])):
        return Decision("INCONCLUSIVE", "low", ["W-CFG-01"], f"The relevant .wslconfig could not be read: {c.rel_cfg.get('path')}.",
                        notes=notes)

    # 3. a published port without its Docker Desktop listener (W-NET-01)
    if c.dd_wsl2 and (c.missing or c.foreign):
        ports = ", ".join(sorted({str(r.get("port")) for r in c.missing}))
        if c.live == "mirrored" and c.missing:
            steps, fix = c.steps_for_live_mirrored()
            pend = " (restart pending: the VM still runs the settings it started with)" if c.restart_pending else ""
            how = _policy_text(f) if c.policy_mirrored() else "mirrored mode"
            return Decision("CONFLICT_CONFIRMED", "high" if c.observed == "mirrored" else c.base,
                            ["W-NET-01", "W-CFG-02", "W-CFG-05", "W-DD-02", "W-WSL-02", "W-WSL-03"],
                            f"Running containers publish {ports} but nothing listens on Windows, with {how} in effect for "
                            f"{c.who}'s VM{pend}.", steps, notes + [NOT_PROOF] + ([] if c.observed else [PREDICTION]), fix)
        if c.live is None:
            what = f"publish {ports} without a Windows listener" if c.missing else "have ports held by another process"
            return Decision("INCONCLUSIVE", "low", ["W-NET-01", "W-CFG-05"],
                            f"Running containers {what}, and {c.who}'s .wslconfig changed after the VM started: whether that "
                            "VM runs mirrored cannot be told.",
                            [f"Re-run with --enable user-context (asks {c.who}'s VM its mode), or restart it: "
                             + _restart_step(c.who, True)], notes)
        if c.live != "mirrored":
            latent = ([f"Mirrored is configured for {c.who} but not in effect: it bites after the cause above is gone "
                       "(AT_RISK_LATENT)."] if c.rel.get("configured_mode") == "mirrored" else [])
            return Decision("PUBLISH_BROKEN_OTHER_CAUSE", c.base, ["W-NET-01", "W-OS-01", "W-OS-02", "W-WSL-01", "W-WSL-02", "W-WSL-03"],
                            f"{_broken_text(c)}, but mirrored networking is not in effect for {c.who}'s VM "
                            f"({c.why_not_mirrored()}): another cause.", _other_cause_steps(c), notes + latent)

    # 4. Docker Desktop in a mirrored VM (live, or at the VM's next start)
    next_mirrored = c.next_mode == "mirrored" and not (c.warn.get("fallback") and c.rel.get("mode_source") == "file")
    if c.dd_wsl2 and (c.live == "mirrored" or (next_mirrored and (c.observed in (None, "mirrored") or c.pending.get("pending")))):
        steps, fix = c.steps_for_live_mirrored()
        if c.restart_pending and c.live == "mirrored":
            summary = (f"Docker Desktop (WSL2 backend) runs in {c.who}'s WSL VM, which still runs in mirrored mode: restart "
                       f"pending: `wsl --shutdown` as {c.who} (the .wslconfig no longer sets mirrored).")
        elif c.live != "mirrored":
            summary = (f"Docker Desktop (WSL2 backend) will run in mirrored mode at {c.who}'s next WSL start "
                       f"({'the ' + _policy_text(f) if c.policy_mirrored() else 'the .wslconfig changed after the VM started'}).")
        else:
            how = ("which the " + _policy_text(f) + " puts in mirrored mode") if c.policy_mirrored() else "which is set to mirrored networking"
            summary = (f"Docker Desktop (WSL2 backend) runs in {c.who}'s WSL VM, {how}: published ports can lose their "
                       "Windows listener.")
        foreign = [f"Ports held by another process: {', '.join(str(r.get('port')) for r in c.foreign)} (W-NET-01)."] if c.foreign else []
        return Decision("AT_RISK_MIRRORED_DOCKER", "high" if c.observed == "mirrored" else c.base,
                        ["W-DD-02", "W-CFG-02", "W-CFG-05", "W-OS-01", "W-OS-02", "W-WSL-02", "W-NET-02", "W-WSL-03"],
                        summary, steps, notes + foreign + ([] if c.observed else [PREDICTION]), fix)

    # 5. another container engine in a mirrored VM
    risky = [e for e in as_list(f.get("engines")) if e.get("at_risk")]
    if risky:
        e = risky[0]
        who = _short(e.get("account") or e.get("user"))
        names = "; ".join(f"{x['engine']} ({x.get('evidence')}) for {_short(x.get('account') or x.get('user'))}" for x in risky)
        edit = {"account": e.get("account"), "path": e.get("path")}
        prof: dict[str, Any] = next((p for p in as_list(f.get("profile_configs")) if p.get("account") == e.get("account")), {})
        return Decision("AT_RISK_MIRRORED_ENGINE", c.base if e.get("evidence", "").startswith("WSL distro") else "medium",
                        ["W-ENG-01", "W-CFG-02", "W-WSL-03"],
                        f"{names}: the engine runs in {who}'s WSL VM, which is in mirrored mode; its published ports can lose "
                        "localhost publishing (microsoft/WSL#10494, #11136; moby#48056 for Docker Engine before 27.3).",
                        [f"Update a Docker Engine inside the distro to 27.3 or later (moby#48514), or keep {who} on NAT:",
                         *_nat_steps(f, prof or {"path": e.get("path"), "account": e.get("account")}, False),
                         f"Or keep mirrored and list the engine's published ports in [experimental] ignoredPorts of {who}'s .wslconfig."],
                        notes, {"kind": "other-profile", "edits": [edit], "user": e.get("account")})

    # 6. mirrored configured but not in effect, or configured for another profile than Docker Desktop's user
    others = [p for p in as_list(f.get("profile_configs")) if p.get("configured_mode") == "mirrored"
              and p.get("sid") != c.rel.get("sid")]
    if c.dd_wsl2 and (c.rel.get("configured_mode") == "mirrored" or others):
        if c.rel.get("configured_mode") == "mirrored":
            summary = (f"Mirrored is configured for {c.who} but not in effect ({c.why_not_mirrored()}): it will bite after a "
                       "Windows/WSL/policy change.")
            steps = _nat_steps(f, {**c.rel_cfg, **c.rel}, True)
            fix = {"kind": "revert-nat", "edits": [{"account": c.rel.get("account"), "path": c.rel.get("path")}],
                   "user": c.rel.get("account")}
        else:
            users = ", ".join(_short(p.get("account") or p.get("user")) for p in others)
            summary = (f"Mirrored is configured for {users}, not for Docker Desktop's user {c.who}: it bites if "
                       f"{'they run' if len(others) > 1 else 'that user runs'} Docker Desktop.")
            steps = []
            for p in others:
                steps += _nat_steps(f, p, False)
            fix = {"kind": "other-profile", "edits": [{"account": p.get("account"), "path": p.get("path")} for p in others],
                   "user": others[0].get("account")}
        return Decision("AT_RISK_LATENT", "high" if c.observed else c.base,
                        ["W-CFG-02", "W-OS-01", "W-OS-02", "W-WSL-01", "W-WSL-02", "W-NET-02", "W-CFG-04", "W-WSL-03"],
                        summary, steps, notes, fix)

    # 7. WSL disabled by machine policy, or no WSL package at all
    if c.dd_wsl2 and c.rel.get("blocked") and c.rel.get("configured_mode") != "mirrored":
        return Decision("NO_WSL_OR_NO_DOCKER", c.base, ["W-WSL-02", "W-DD-02"],
                        f"WSL cannot run here ({c.rel['blocked']}): Docker Desktop's WSL2 backend cannot start, and no "
                        "mirrored VM either.", ["Switch Docker Desktop to the Hyper-V backend, or allow WSL by policy."], notes)
    pkg = as_dict(f.get("wsl_package"))
    if not pkg.get("installed") and not mirrored_profiles:
        return Decision("NO_WSL_OR_NO_DOCKER", c.base if c.dd.get("installed") else "medium", ["W-WSL-01", "W-DD-01"],
                        "No Store/MSI WSL package" + (" although Docker Desktop is installed (W-WSL-01)." if c.dd.get("installed") else "."),
                        ["Install WSL (`wsl --install --no-distribution`) if Docker Desktop should use the WSL2 backend."]
                        if c.dd.get("installed") else [], notes)

    # 8. Docker Desktop on WSL2 in a NAT (or other non-mirrored) VM
    if c.dd_wsl2:
        conf = "high" if c.observed or c.probe.get("outcome") == "pass" else c.base
        if c.probe.get("outcome") == "warn":
            notes.append("The probe saw degraded publishing: " + "; ".join(c.probe.get("reasons") or []))
        mode = c.live or "nat"
        if mode != "nat":
            notes.append(f"The relevant VM is in {mode} mode (not mirrored, not NAT).")
        if c.pending.get("pending"):
            notes.append(f"{c.who}'s .wslconfig changed after the VM started (W-CFG-05); the next start uses {c.next_mode}.")
        return Decision("HEALTHY_NAT", conf, ["W-DD-02", "W-CFG-02", "W-WSL-02", "W-NET-01", "W-WSL-03", "W-PROBE-01"],
                        f"Docker Desktop (WSL2 backend) and {c.who}'s WSL VM use {mode} networking.", [], notes)

    # 9. mirrored without Docker Desktop on WSL2 (and no engine at risk)
    if mirrored_profiles or f.get("effective_mirrored_profiles"):
        users = ", ".join(map(str, mirrored_profiles or f.get("effective_mirrored_profiles") or []))
        why = "not installed" if not c.dd.get("installed") else "on the Hyper-V backend or Windows containers"
        fine = [f"{e['engine']} for {_short(e.get('user'))}: fixed for mirrored (Engine >= 27.3, moby#48514)."
                for e in as_list(f.get("engines")) if not e.get("too_old")]
        return Decision("MIRRORED_WITHOUT_DOCKER", "medium", ["W-CFG-02", "W-DD-01", "W-DD-02", "W-ENG-01"],
                        f"Mirrored mode is configured ({users}) and Docker Desktop is {why}: no conflict.", [], notes + fine)
    return Decision("NO_WSL_OR_NO_DOCKER", "medium", ["W-WSL-01", "W-DD-01"],
                    "Neither Docker Desktop on WSL2 nor mirrored mode is present.", [], notes)


def _broken_text(c: _Ctx) -> str:
    parts = []
    if c.missing:
        parts.append("running containers publish " + ", ".join(sorted({str(r.get("port")) for r in c.missing}))
                     + " but nothing listens on Windows")
    if c.foreign:
        parts.append("; ".join(f"port {r.get('port')} is held by " + ", ".join(sorted({str(x.get('process')) for x in
                                                                                        as_list(r.get('listeners'))}))
                               for r in c.foreign))
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def _other_cause_steps(c: _Ctx) -> list[str]:
    steps = []
    if c.foreign:
        steps.append("Move the Windows service that holds the port (e.g. ICS/SharedAccess on 53, IIS on 80), or publish the "
                     "container on another host port.")
    if c.missing or c.probe.get("outcome") == "fail":
        steps.append("Look at Docker Desktop's port forwarding: `docker port <container>`, Docker Desktop's logs "
                     "(%LOCALAPPDATA%\\Docker\\log\\host), and restart Docker Desktop as its user "
                     f"({c.who}); a port in Windows' excluded port ranges (`netsh interface ipv4 show excludedportrange "
                     "protocol=tcp`) cannot be bound either.")
    steps.append("Re-run the audit with --enable probe to see whether publishing works again.")
    return steps
