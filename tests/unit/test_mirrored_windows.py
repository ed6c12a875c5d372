"""Windows side of the mirrored-mode audit: the audit parser, the deriver, the shipped checks and the verdict.

Each case starts from tests/data/samples/windows_audit_conflict.json (PowerShell 5.1 shapes) and changes one
thing; the whole path runs as in a real run: parser -> deriver -> playbook checks -> verdict.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from auditor.checks import evaluate_checks
from auditor.mirrored.verdicts import windows_verdict
from auditor.mirrored.windows import derive_windows
from auditor.mirrored.winaudit import parse_windows_audit, probe_doc, user_context_doc
from auditor.parsers.registry import CollectorOutput
from auditor.playbook.loader import load_playbook
from auditor.results import CheckStatus

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "data" / "samples"
PLAY = load_playbook(ROOT / "playbooks" / "mirrored-mode.yml").plays[0]
BASE = json.loads((SAMPLES / "windows_audit_conflict.json").read_text())
LISTENER_8081 = [{"LocalAddress": "0.0.0.0", "LocalPort": 8081, "OwningProcess": 11452, "Process": "com.docker.backend", "State": "Listen"},
                 {"LocalAddress": "::", "LocalPort": 8081, "OwningProcess": 11452, "Process": "com.docker.backend", "State": 2}]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def run(doc: dict[str, Any], enabled: set[str] | None = None, extra: dict[str, Any] | None = None):
    """parse -> derive -> checks -> verdict, like the runner does."""
    raw = json.dumps(doc).encode()
    facts: dict[str, Any] = {"_errors": {}, "audit": parse_windows_audit(CollectorOutput("audit", raw, b"", 0, platform="windows"))}
    facts.update(extra or {})
    variables = dict(PLAY.vars)
    facts.update(derive_windows(facts, variables))
    ctx = {"facts": facts, "vars": variables, "host": {"name": "h", "address": "127.0.0.1", "groups": [], "platform": "windows"},
           "enabled": set(enabled or ())}
    checks = evaluate_checks(PLAY.checks, ctx, "windows", set(enabled or ()))
    errors = {c.id: c.message for c in checks if c.status == CheckStatus.error}
    assert not errors, errors
    return facts, {c.id: c for c in checks}, windows_verdict(facts, checks, variables)


def variant(*changes: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    for change in changes:
        change(doc)
    return doc


def wslconfig(data: bytes) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["profiles"][0]["WslConfig"] = {"LastWriteUtc": "2026-09-10T09:00:00Z", "Length": len(data), "Base64": b64(data)}
    return change


def listeners(doc: dict[str, Any]) -> None:
    doc["tcpListen"] = LISTENER_8081


def os_build(build: str, ubr: int | None) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["os"]["CurrentBuild"], doc["os"]["UBR"] = build, ubr
    return change


def test_base_sample_is_a_confirmed_conflict():
    facts, checks, verdict = run(BASE)
    assert facts["relevant"]["status"] == "owner" and facts["relevant"]["user"] == "CORP\\dev1"
    assert facts["relevant"]["configured_mode"] == "mirrored" and facts["relevant"]["effective_mode"] == "mirrored"
    assert checks["W-NET-01"].status == CheckStatus.failed and "8081" in checks["W-NET-01"].message
    assert checks["W-CFG-02"].status == CheckStatus.failed
    assert verdict.name == "CONFLICT_CONFIRMED" and verdict.confidence.value == "medium"
    assert "W-NET-01" in verdict.decided_by and verdict.notes and verdict.remediation
    assert "line 2" in verdict.remediation[0]


def test_listener_present_means_at_risk_not_confirmed():
    facts, checks, verdict = run(variant(listeners))
    assert checks["W-NET-01"].status == CheckStatus.passed
    assert verdict.name == "AT_RISK_MIRRORED_DOCKER" and verdict.confidence.value == "medium"
    assert any("predicted" in n for n in verdict.notes)


@pytest.mark.parametrize("text, expected", [
    (b"[wsl2]\nmemory=8GB\n#networkingMode=mirrored\n", "HEALTHY_NAT"),
    (b"[wsl2]\n;networkingMode=mirrored\n", "HEALTHY_NAT"),                       # ';' is no comment: invalid key, skipped
    (b"[experimental]\nnetworkingMode=mirrored\n\n[wsl2]\nnetworkingMode=nat\n", "AT_RISK_MIRRORED_DOCKER"),   # first wins
    (b"[wsl2]\nnetworkingMode=nat\n[experimental]\nnetworkingMode=mirrored\n", "HEALTHY_NAT"),
    (b"[wsl2]\nnetworkingMode=MIRRORED\n", "AT_RISK_MIRRORED_DOCKER"),           # enum values are case-insensitive
    (b"[wsl2]\nnetworkingMode=bogus\n", "HEALTHY_NAT"),                         # invalid value -> default NAT
    (b"\xef\xbb\xbf[wsl2]\nnetworkingMode=mirrored\n", "AT_RISK_MIRRORED_DOCKER"),  # UTF-8 BOM
    (b"\xff\xfe" + "[wsl2]\r\nnetworkingMode=mirrored\r\n".encode("utf-16-le"), "AT_RISK_MIRRORED_DOCKER"),  # UTF-16LE BOM
    ("[wsl2]\r\nnetworkingMode=mirrored\r\n".encode("utf-16-le"), "HEALTHY_NAT"),  # UTF-16 without BOM: garbage to WSL
])
def test_wslconfig_traps(text: bytes, expected: str):
    facts, checks, verdict = run(variant(listeners, wslconfig(text)))
    assert verdict.name == expected, (verdict, facts["relevant"])


def test_semicolon_line_and_misplaced_keys_are_reported():
    text = b"[wsl2]\n;networkingMode=mirrored\nhostAddressLoopback=true\n[experimental]\nignoredPorts=8081\n"
    facts, checks, _ = run(variant(listeners, wslconfig(text)))
    assert checks["W-CFG-03"].status == CheckStatus.failed
    kinds = {(i["line"], i["kind"]) for i in facts["wslconfig_issues"]}
    assert (2, "invalid-key-name") in kinds and (3, "unknown-key") in kinds
    assert "[experimental]-only" in checks["W-CFG-03"].message


def test_utf16_without_bom_fails_readability():
    facts, checks, _ = run(variant(listeners, wslconfig("[wsl2]\r\nnetworkingMode=mirrored\r\n".encode("utf-16-le"))))
    assert checks["W-CFG-01"].status == CheckStatus.failed
    assert facts["wslconfig_files"][0]["encoding"] == "utf-16le-no-bom"


def test_utf16_with_bom_is_readable():
    data = b"\xff\xfe" + "[wsl2]\r\nnetworkingMode=nat\r\n".encode("utf-16-le")
    facts, checks, verdict = run(variant(listeners, wslconfig(data)))
    assert checks["W-CFG-01"].status == CheckStatus.passed and verdict.name == "HEALTHY_NAT"


def test_stray_variant_file_is_flagged():
    def stray(doc): doc["profiles"][0]["Variants"] = [".wslconfig", ".wslconfig.txt"]
    _, checks, _ = run(variant(listeners, stray))
    assert checks["W-CFG-01"].status == CheckStatus.failed and ".wslconfig.txt" in checks["W-CFG-01"].message


def test_policy_forcing_nat_makes_mirrored_latent():
    def policy(doc): doc["wsl"]["Policy"] = {"DefaultNetworkingMode": 1, "AllowNetworkingModeUserSetting": 0, "AllowFirewallUserSetting": None}
    facts, checks, verdict = run(variant(listeners, policy))
    assert facts["wsl_policy"]["nat_enforced"] and checks["W-WSL-02"].status == CheckStatus.passed
    assert facts["relevant"]["effective_mode"] == "nat"
    assert verdict.name == "AT_RISK_LATENT" and "W-WSL-02" in verdict.decided_by


def test_policy_default_mirrored_fails_wsl02():
    def policy(doc): doc["wsl"]["Policy"] = {"DefaultNetworkingMode": 3}
    _, checks, _ = run(variant(listeners, policy))
    assert checks["W-WSL-02"].status == CheckStatus.failed


@pytest.mark.parametrize("build, ubr, support, expected", [
    ("19045", 5011, "unsupported", "AT_RISK_LATENT"),      # Windows 10
    ("22621", 2000, "unsupported", "AT_RISK_LATENT"),      # 22H2 before the Sept 2023 preview
    ("22621", 2400, "likely", "AT_RISK_MIRRORED_DOCKER"),  # preview update only
    ("22621", 2428, "supported", "AT_RISK_MIRRORED_DOCKER"),
    ("26100", 2033, "supported", "AT_RISK_MIRRORED_DOCKER"),
])
def test_windows_build_and_ubr(build, ubr, support, expected):
    facts, checks, verdict = run(variant(listeners, os_build(build, ubr)))
    assert facts["os_support"]["mirrored_support"] == support
    assert checks["W-OS-01"].status == CheckStatus.passed and support in checks["W-OS-01"].message
    assert verdict.name == expected


def test_ipv6_disabled_ff_is_latent():
    def ipv6(doc): doc["os"]["Ipv6DisabledComponents"] = 255
    facts, checks, verdict = run(variant(listeners, ipv6))
    assert checks["W-OS-02"].status == CheckStatus.failed and facts["relevant"]["effective_mode"] == "nat"
    assert verdict.name == "AT_RISK_LATENT"


def test_fallback_event_is_latent():
    def ev(doc): doc["wslEvents"] = {"TimeUtc": "2026-09-18T07:41:02Z", "Id": 0, "Level": "Warning",
                                     "Message": "Mirrored networking mode is not supported: Windows version 26200.7171 does not have the required features.\nFalling back to NAT networking."}
    facts, checks, verdict = run(variant(listeners, ev))
    assert checks["W-NET-02"].status == CheckStatus.failed and "mirrored-fallback" in checks["W-NET-02"].message
    assert verdict.name == "AT_RISK_LATENT"


def test_docker_desktop_owner_differs_from_mirrored_user():
    """Mirrored is set for dev1, but Docker Desktop runs as dev2 (NAT): latent, not at risk."""
    def dev2(doc):
        other = copy.deepcopy(doc["profiles"][0])
        other.update(SID="S-1-5-21-1-2-3-1002", Account="CORP\\dev2", LocalPath="C:\\Users\\dev2", WslConfig=None)
        doc["profiles"].append(other)
        for p in doc["processes"]:
            if p["UserName"] == "CORP\\dev1":
                p["UserName"] = "CORP\\dev2"
    facts, checks, verdict = run(variant(listeners, dev2))
    assert facts["relevant"]["user"] == "CORP\\dev2" and facts["relevant"]["configured_mode"] is None
    assert facts["mirrored_profiles"] == ["dev1"]
    assert verdict.name == "AT_RISK_LATENT" and "dev1" in verdict.summary


def test_docker_pipe_not_accessible_skips_listener_check():
    def denied(doc): doc["docker"] = {"Reachable": False, "Error": "open //./pipe/dockerDesktopLinuxEngine: Access is denied.",
                                      "Version": None, "Info": None, "Ps": None, "Inspect": None}
    facts, checks, verdict = run(variant(denied))
    assert checks["W-NET-01"].status == CheckStatus.skipped
    assert facts["docker_desktop"]["docker_error"].endswith("Access is denied.")
    assert facts["docker_desktop"]["wsl2_backend"] is True  # from settings-store.json, no CLI needed
    assert verdict.name == "AT_RISK_MIRRORED_DOCKER"


def test_docker_not_running_single_candidate_is_inferred():
    def stopped(doc):
        doc["processes"] = [p for p in doc["processes"] if p["Name"] not in ("Docker Desktop", "com.docker.backend")]
        doc["docker"] = {"Reachable": False, "Error": "cannot find the file specified", "Version": None, "Info": None, "Ps": None, "Inspect": None}
    facts, checks, verdict = run(variant(stopped))
    assert facts["relevant"]["status"] == "single-candidate"
    assert checks["W-CFG-04"].status == CheckStatus.failed
    assert verdict.name == "AT_RISK_MIRRORED_DOCKER" and any("inferred" in n for n in verdict.notes)


def test_ambiguous_owner_with_mirrored_is_inconclusive():
    def two(doc):
        other = copy.deepcopy(doc["profiles"][0])
        other.update(SID="S-1-5-21-1-2-3-1002", Account="CORP\\dev2", LocalPath="C:\\Users\\dev2", WslConfig=None)
        doc["profiles"].append(other)
        doc["processes"] = [p for p in doc["processes"] if p["Name"] not in ("Docker Desktop", "com.docker.backend")]
    facts, _, verdict = run(variant(two))
    assert facts["relevant"]["status"] == "ambiguous" and verdict.name == "INCONCLUSIVE" and verdict.confidence.value == "low"


def test_hyperv_backend_means_mirrored_without_docker():
    def admin(doc): doc["dockerDesktop"]["AdminSettingsBase64"] = b64((SAMPLES / "admin-settings.json").read_bytes())
    def kernel(doc): doc["docker"]["Version"] = doc["docker"]["Version"].replace("microsoft-standard-WSL2", "linuxkit")
    facts, checks, verdict = run(variant(listeners, admin, kernel))
    assert facts["docker_desktop"]["wsl2_backend"] is False
    assert checks["W-DD-04"].status == CheckStatus.failed  # local-only-port-binding
    assert facts["docker_desktop"]["vpnkit_cidr"] == "192.168.66.0/24"
    assert verdict.name == "MIRRORED_WITHOUT_DOCKER"


def test_no_docker_no_wsl():
    def bare(doc):
        doc["wsl"]["MsiVersion"] = None
        doc["wslVersion"] = None
        doc["dockerDesktop"] = {"UninstallHKLM": None, "AdminSettingsBase64": None}
        doc["docker"] = {"Reachable": False, "Error": "docker.exe not found"}
        doc["processes"] = []
        for p in doc["profiles"]:
            p["WslConfig"], p["DockerSettings"], p["LxssDistros"] = None, [], []
    facts, checks, verdict = run(variant(bare))
    assert verdict.name == "NO_WSL_OR_NO_DOCKER"
    assert checks["W-DD-02"].status == CheckStatus.not_applicable


def test_wsl_missing_with_docker_desktop_fails_wsl01():
    def nowsl(doc):
        doc["wsl"]["MsiVersion"] = None
        doc["wslVersion"] = None
        doc["profiles"][0]["WslConfig"] = None
    _, checks, verdict = run(variant(listeners, nowsl))
    assert checks["W-WSL-01"].status == CheckStatus.failed and verdict.name == "NO_WSL_OR_NO_DOCKER"


def test_old_wsl_with_mirrored_warns():
    def old(doc): doc["wsl"]["MsiVersion"] = "2.0.9.0"
    _, checks, _ = run(variant(listeners, old))
    assert checks["W-WSL-01"].status == CheckStatus.failed and "2.0.14" in checks["W-WSL-01"].message


def test_port_held_by_foreign_process_and_hotspot():
    def ics(doc):
        doc["docker"]["Ps"] = doc["docker"]["Ps"].replace("8081-\\u003e80/tcp", "53-\\u003e53/tcp")
        doc["tcpListen"] = [{"LocalAddress": "0.0.0.0", "LocalPort": 53, "OwningProcess": 2200, "Process": "svchost", "State": 2}]
    facts, checks, verdict = run(variant(ics))
    assert facts["published_ports"]["foreign"] and checks["W-NET-01"].status == CheckStatus.failed
    assert checks["W-NET-04"].status == CheckStatus.failed
    assert verdict.name == "AT_RISK_MIRRORED_DOCKER"  # taken, not missing: not the field-note signature


def test_pending_restart():
    def late(doc): doc["profiles"][0]["WslConfig"]["LastWriteUtc"] = "2026-09-18T07:30:00.0000000Z"
    facts, checks, _ = run(variant(listeners, late))
    assert facts["pending_restart"]["pending"] and checks["W-CFG-05"].status == CheckStatus.failed


def test_ignored_ports_coverage():
    text = b"[wsl2]\nnetworkingMode=mirrored\n[experimental]\nignoredPorts=9000\n"
    facts, checks, _ = run(variant(listeners, wslconfig(text)))
    assert facts["ignored_ports"]["uncovered"] == [8081] and checks["W-CFG-06"].status == CheckStatus.failed


def test_user_context_observed_mode_gives_high_confidence():
    out = (b"@@wslinfo\r\nnat\r\n\r\n@@docker-desktop\r\n2: eth0    inet 172.30.98.229/20 scope global eth0\r\n@@end\r\n")
    uc = user_context_doc({"User": "CORP\\dev1", "Ran": True, "OutputBase64": b64(out), "Cleanup": {"TaskRemoved": True, "FileRemoved": True}})
    facts, checks, verdict = run(variant(listeners), {"user-context"}, {"user_context": uc})
    assert checks["W-WSL-03"].status == CheckStatus.passed
    assert verdict.name == "AT_RISK_LATENT" and verdict.confidence.value == "high"  # configured mirrored, runs NAT


def test_probe_fail_confirms_with_high_confidence():
    probe = probe_doc({"Ran": True, "Port": 8081, "RunExitCode": 0, "Running": True, "Listeners": None, "PrimaryIPv4": "192.168.0.200",
                       "Http": [{"Target": "127.0.0.1", "Ok": False, "Error": "Unable to connect"}],
                       "Cleanup": {"Attempted": True, "Removed": True, "Remaining": 0, "PortReleased": True}, "Transcript": ["docker run"]})
    facts, checks, verdict = run(variant(listeners), {"probe"}, {"probe": probe})
    assert checks["W-PROBE-01"].status == CheckStatus.failed and facts["probe_result"]["cleanup_ok"] is True
    assert verdict.name == "CONFLICT_CONFIRMED" and verdict.confidence.value == "high" and verdict.decided_by[0] == "W-PROBE-01"


@pytest.mark.parametrize("probe, outcome", [
    ({"Ran": True, "Port": 8081, "RunExitCode": 0, "Running": True, "PrimaryIPv4": "10.0.0.5",
      "Listeners": {"LocalAddress": "0.0.0.0", "LocalPort": 8081, "Process": "com.docker.backend", "State": 2},
      "Http": [{"Target": "127.0.0.1", "Ok": True, "Status": 200}, {"Target": "10.0.0.5", "Ok": True, "Status": 200}]}, "pass"),
    ({"Ran": True, "Port": 8081, "RunExitCode": 0, "Running": True, "PrimaryIPv4": "10.0.0.5", "Listeners": [],
      "Http": [{"Target": "127.0.0.1", "Ok": True, "Status": 200}, {"Target": "10.0.0.5", "Ok": False}]}, "warn"),
    ({"Ran": True, "Port": 8081, "RunExitCode": 125, "RunStderr": "Error starting userland proxy: listen tcp4 0.0.0.0:8081: bind: address already in use"}, "fail"),
    ({"Ran": False, "Skipped": "image nginx:alpine not present locally and pulling is not allowed"}, "inconclusive"),
])
def test_probe_outcomes(probe, outcome):
    facts, checks, _ = run(variant(listeners), {"probe"}, {"probe": probe_doc(probe)})
    assert facts["probe_result"]["outcome"] == outcome
    expected = {"pass": CheckStatus.passed, "warn": CheckStatus.failed, "fail": CheckStatus.failed, "inconclusive": CheckStatus.skipped}
    assert checks["W-PROBE-01"].status == expected[outcome]


def test_probe_cleanup_failure_is_reported():
    probe = probe_doc({"Ran": True, "Port": 8081, "RunExitCode": 0, "Running": True, "Listeners": LISTENER_8081,
                       "Http": [{"Target": "127.0.0.1", "Ok": True, "Status": 200}],
                       "Cleanup": {"Attempted": True, "Removed": False, "Remaining": 1, "PortReleased": False}})
    facts, checks, _ = run(variant(listeners), {"probe"}, {"probe": probe})
    assert facts["probe_result"]["cleanup_ok"] is False and "CLEANUP INCOMPLETE" in checks["W-PROBE-01"].message


def test_opt_in_checks_skipped_without_flag():
    _, checks, _ = run(variant(listeners))
    assert checks["W-WSL-03"].status == CheckStatus.skipped and checks["W-PROBE-01"].status == CheckStatus.skipped


def test_missing_audit_is_inconclusive():
    facts = {"_errors": {"audit": "parser mirrored.windows_audit: expected schema"}}
    facts.update(derive_windows(facts, {}))
    ctx = {"facts": facts, "vars": {}, "host": {}, "enabled": set()}
    checks = evaluate_checks(PLAY.checks, ctx, "windows", set())
    assert {c.status for c in checks} <= {CheckStatus.skipped, CheckStatus.not_applicable}
    verdict = windows_verdict(facts, checks, {})
    assert verdict.name == "INCONCLUSIVE" and "expected schema" in verdict.summary
