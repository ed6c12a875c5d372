"""The Windows collectors' JSON (PowerShell 5.1 shapes) -> normalised facts.

``mirrored.windows_audit`` reads windows_audit.ps1's document; embedded raw payloads (wsl --version bytes,
Docker settings files, docker CLI JSON) are decoded here, each failure kept as an ``error`` string next to
the value instead of failing the whole collector. ``.wslconfig`` bytes stay base64 in the facts: the
deriver parses them with the WSL-faithful parser together with policy and build.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable

from auditor.mirrored import docker as dk
from auditor.mirrored.linuxnet import oneline_rows, wslinfo_text
from auditor.mirrored.shapes import (
    as_dict, as_list, b64bytes, first_json_value, guarded, load_json, to_bool, to_int, to_str,
)
from auditor.mirrored.wslexe import decode_wsl, parse_wsl_version_bytes
from auditor.parsers.decode import decode_output
from auditor.parsers.registry import CollectorOutput, ParseError, register_parser

SCHEMA_PREFIX = "wsl-docker-audit/"
# MIB_TCP_STATE / .NET TcpState numbers, plus Get-NetTCPConnection's Bound (100): PS 5.1 may send numbers.
TCP_STATES = {1: "Closed", 2: "Listen", 3: "SynSent", 4: "SynReceived", 5: "Established", 6: "FinWait1",
              7: "FinWait2", 8: "CloseWait", 9: "Closing", 10: "LastAck", 11: "TimeWait", 12: "DeleteTCB", 100: "Bound"}
SERVICE_STATUS = {1: "Stopped", 2: "StartPending", 3: "StopPending", 4: "Running", 5: "ContinuePending",
                  6: "PausePending", 7: "Paused"}
START_TYPES = {0: "Boot", 1: "System", 2: "Automatic", 3: "Manual", 4: "Disabled"}


def enum_name(value: Any, table: dict[int, str]) -> str | None:
    """An enum sent as its name or as its number (PS 5.1 ConvertTo-Json)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return table.get(value, str(value))
    s = to_str(value)
    if s is not None and s.strip().isdigit():
        return table.get(int(s), s.strip())
    return s


def _try(fn: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return fn(), None
    except ParseError as exc:
        return None, str(exc)


def _json_b64(value: Any, what: str) -> Any:
    data = b64bytes(value)
    if data is None:
        raise ParseError(f"{what}: not valid base64")
    return load_json(decode_output(data), what)


def _settings_doc(entry: dict[str, Any], name: str) -> dict[str, Any]:
    return dk.desktop_settings(_json_b64(entry.get("Base64"), name), name)


def tcp_rows(doc: Any) -> list[dict[str, Any]]:
    """Get-NetTCPConnection rows (bare object or array; State name or number)."""
    rows = []
    for r in as_list(doc):
        if not isinstance(r, dict):
            continue
        rows.append({"address": to_str(r.get("LocalAddress")), "port": to_int(r.get("LocalPort")),
                     "pid": to_int(r.get("OwningProcess")), "process": to_str(r.get("Process")),
                     "state": enum_name(r.get("State"), TCP_STATES)})
    return rows


def _profile(p: dict[str, Any]) -> dict[str, Any]:
    path = to_str(p.get("LocalPath")) or ""
    account = to_str(p.get("Account"))
    wc = p.get("WslConfig")
    wslconfig = None
    if isinstance(wc, dict):
        wslconfig = {"base64": to_str(wc.get("Base64")), "length": to_int(wc.get("Length")),
                     "last_write_utc": to_str(wc.get("LastWriteUtc")), "error": to_str(wc.get("Error"))}
    bk = p.get("WslConfigBackup")
    backup = None
    if isinstance(bk, dict):
        backup = {"name": to_str(bk.get("Name")), "base64": to_str(bk.get("Base64")), "length": to_int(bk.get("Length")),
                  "last_write_utc": to_str(bk.get("LastWriteUtc")), "error": to_str(bk.get("Error"))}
    settings = []
    for s in as_list(p.get("DockerSettings")):
        s = as_dict(s)
        name = to_str(s.get("Name")) or "settings-store.json"
        parsed, err = _try(functools.partial(_settings_doc, s, name))
        settings.append({"name": name, "last_write_utc": to_str(s.get("LastWriteUtc")), "settings": parsed,
                         "error": err or to_str(s.get("Error"))})
    distros = []
    for d in as_list(p.get("LxssDistros")):
        d = as_dict(d)
        flags = to_int(d.get("Flags"))
        distros.append({"id": to_str(d.get("Id")), "name": to_str(d.get("Name")), "flags": flags,
                        "version": (2 if flags & 0x8 else 1) if flags is not None else None,
                        "base_path": to_str(d.get("BasePath"))})
    uninstall = as_dict(p.get("DockerUninstall")) or None
    return {
        "sid": to_str(p.get("SID")),
        "account": account,
        "user": (account or path).replace("/", "\\").rsplit("\\", 1)[-1] or None,
        "path": path,
        "loaded": bool(to_bool(p.get("Loaded"))),
        "last_use_utc": to_str(p.get("LastUseUtc")),
        "wslconfig": wslconfig,
        "wslconfig_backup": backup,
        "variants": [str(v) for v in as_list(p.get("Variants")) if isinstance(v, str)],
        "docker_settings": settings,
        "lxss_default": to_str(p.get("LxssDefault")),
        "lxss_distros": distros,
        "docker_uninstall": {"display_version": to_str(uninstall.get("DisplayVersion")),
                             "install_location": to_str(uninstall.get("InstallLocation"))} if uninstall else None,
    }


def _docker(doc: Any) -> dict[str, Any]:
    d = as_dict(doc)
    out: dict[str, Any] = {"reachable": bool(to_bool(d.get("Reachable"))), "error": to_str(d.get("Error")),
                           "version": None, "info": None, "ps": None, "inspect": None, "parse_errors": {}}
    parsers: dict[str, Callable[[str], Any]] = {
        "version": lambda t: dk.version_doc(load_json(first_json_value(t), "docker version JSON")),
        "info": lambda t: dk.info_doc(load_json(first_json_value(t), "docker info JSON")),
        "ps": dk.ps_lines,
        "inspect": lambda t: dk.inspect_doc(load_json(first_json_value(t), "docker inspect JSON")) if t.strip() else [],
    }
    for key, fn in parsers.items():
        text = to_str(d.get(key.capitalize()))
        if text is None:
            continue
        value, err = _try(functools.partial(fn, text))
        out[key] = value
        if err:
            out["parse_errors"][key] = err
    if out["reachable"] and out["ps"] is None and "ps" not in out["parse_errors"]:
        out["ps"] = []
    return out


def audit_doc(doc: Any) -> dict[str, Any]:
    """windows_audit.ps1's document -> facts (see docs/collectors.md for the input contract)."""
    if not isinstance(doc, dict):
        raise ParseError("expected the windows_audit JSON object")
    schema = to_str(doc.get("schema")) or ""
    if not schema.startswith(SCHEMA_PREFIX):
        raise ParseError(f"expected schema {SCHEMA_PREFIX}*, got {schema[:40]!r}")
    os_, wsl = as_dict(doc.get("os")), as_dict(doc.get("wsl"))
    policy = as_dict(wsl.get("Policy"))
    wv = as_dict(doc.get("wslVersion")) or None
    wsl_version = None
    if wv:
        data = b64bytes(wv.get("Base64"))
        parsed, err = _try(lambda: parse_wsl_version_bytes(data or b""))
        wsl_version = {"exit_code": to_int(wv.get("ExitCode")), "values": parsed, "error": err}
    dd = as_dict(doc.get("dockerDesktop"))
    admin, admin_err = (None, None)
    if dd.get("AdminSettingsBase64"):
        admin, admin_err = _try(lambda: dk.admin_settings(_json_b64(dd.get("AdminSettingsBase64"), "admin-settings.json")))
    un = as_dict(dd.get("UninstallHKLM")) or None
    hv = as_dict(doc.get("hypervFirewall")) or None
    return {
        "schema": schema,
        "collected_utc": to_str(doc.get("collectedUtc")),
        "host": to_str(doc.get("host")),
        "os": {
            "build": to_int(os_.get("CurrentBuild")), "ubr": to_int(os_.get("UBR")),
            "display_version": to_str(os_.get("DisplayVersion")), "product_name": to_str(os_.get("ProductName")),
            "caption": to_str(os_.get("Caption")), "edition": to_str(os_.get("EditionID")),
            "installation_type": to_str(os_.get("InstallationType")),
            "ipv6_disabled_components": to_int(os_.get("Ipv6DisabledComponents")),
        },
        "wsl": {
            "msi_version": to_str(wsl.get("MsiVersion")), "appx_version": to_str(wsl.get("AppxVersion")),
            "install_location": to_str(wsl.get("MsiInstallLocation")),
            "policy": {"default_networking_mode": to_int(policy.get("DefaultNetworkingMode")),
                       "allow_networking_mode_user_setting": to_int(policy.get("AllowNetworkingModeUserSetting")),
                       "allow_firewall_user_setting": to_int(policy.get("AllowFirewallUserSetting")),
                       "allow_wsl": to_int(policy.get("AllowWSL")), "allow_inbox_wsl": to_int(policy.get("AllowInboxWSL"))},
            "services": [{"name": to_str(as_dict(s).get("Name")),
                          "status": enum_name(as_dict(s).get("Status"), SERVICE_STATUS),
                          "start_type": enum_name(as_dict(s).get("StartType"), START_TYPES)}
                         for s in as_list(wsl.get("Service")) if isinstance(s, dict)],
        },
        "wsl_version": wsl_version,
        "profiles": [_profile(p) for p in as_list(doc.get("profiles")) if isinstance(p, dict)],
        "docker_desktop": {
            "uninstall": {"display_version": to_str(un.get("DisplayVersion")),
                          "install_location": to_str(un.get("InstallLocation"))} if un else None,
            "admin_settings": admin, "admin_settings_error": admin_err,
        },
        "docker": _docker(doc.get("docker")),
        "processes": [{"name": to_str(as_dict(p).get("Name")), "pid": to_int(as_dict(p).get("Id")),
                       "user": to_str(as_dict(p).get("UserName")), "start_utc": to_str(as_dict(p).get("StartUtc")),
                       "path": to_str(as_dict(p).get("Path"))} for p in as_list(doc.get("processes")) if isinstance(p, dict)],
        "tcp_listen": tcp_rows(doc.get("tcpListen")),
        "udp": [{"address": to_str(as_dict(u).get("LocalAddress")), "port": to_int(as_dict(u).get("LocalPort")),
                 "pid": to_int(as_dict(u).get("OwningProcess")), "process": to_str(as_dict(u).get("Process"))}
                for u in as_list(doc.get("udp")) if isinstance(u, dict)],
        "wsl_events": [{"time_utc": to_str(as_dict(e).get("TimeUtc")), "id": to_int(as_dict(e).get("Id")),
                        "level": to_str(as_dict(e).get("Level")), "message": (to_str(as_dict(e).get("Message")) or "")[:2000]}
                       for e in as_list(doc.get("wslEvents")) if isinstance(e, dict)],
        "hyperv_firewall": {k: to_str(v) for k, v in hv.items()} if hv else None,
        "primary_ipv4": to_str(doc.get("primaryIPv4")),
    }


@register_parser("mirrored.windows_audit")
@guarded
def parse_windows_audit(out: CollectorOutput) -> dict[str, Any]:
    text = out.text()
    if not text.strip():
        raise ParseError("the windows_audit collector printed nothing (PowerShell failed before ConvertTo-Json?)")
    return audit_doc(load_json(first_json_value(text), "the windows_audit JSON document"))


@register_parser("mirrored.net_tcp")
@guarded
def parse_net_tcp(out: CollectorOutput) -> list[dict[str, Any]]:
    """``Get-NetTCPConnection | ConvertTo-Json``; nothing found (a CIM error on stderr) -> []."""
    text = out.text()
    if not text.strip():
        return []
    return tcp_rows(load_json(first_json_value(text), "Get-NetTCPConnection JSON"))


def user_context_doc(doc: Any) -> dict[str, Any]:
    d = as_dict(doc)
    data = b64bytes(d.get("OutputBase64"))
    text = decode_wsl(data) if data else ""
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.split("\n"):
        m = re.match(r"^@@([a-z-]+)\s*$", line.strip())
        if m:
            current = m.group(1)
            sections.setdefault(current, [])
        elif current:
            sections[current].append(line)
    info = wslinfo_text("\n".join(sections.get("wslinfo", [])))
    dd_ifaces = oneline_rows("\n".join(sections.get("docker-desktop", [])))
    cleanup = as_dict(d.get("Cleanup"))
    engine_lines = [ln.strip() for ln in sections.get("engine", []) if ln.strip()]
    engine = next((m.group(0) for ln in engine_lines if (m := re.match(r"^\d+\.\d+(?:\.\d+)?\S*$", ln))), None)
    return {
        "user": to_str(d.get("User")), "ran": bool(to_bool(d.get("Ran"))), "error": to_str(d.get("Error")),
        "distro_engine_version": engine, "distro_engine_raw": " ".join(engine_lines)[:300] or None,
        "task_name": to_str(d.get("TaskName")), "task_result": to_int(d.get("TaskResult")),
        "mode": info["mode"], "wslinfo_raw": info["raw"] if info["available"] else None,
        "docker_desktop_ifaces": dd_ifaces,
        "docker_desktop_loopback0": any(r.get("ifname") == "loopback0" for r in dd_ifaces),
        "actions": [str(a) for a in as_list(d.get("Actions"))][:50],
        "cleanup": {"task_removed": to_bool(cleanup.get("TaskRemoved")), "file_removed": to_bool(cleanup.get("FileRemoved"))},
    }


@register_parser("mirrored.user_context")
@guarded
def parse_user_context(out: CollectorOutput) -> dict[str, Any]:
    return user_context_doc(load_json(first_json_value(out.text()), "the windows_user_context JSON object"))


def probe_doc(doc: Any) -> dict[str, Any]:
    d = as_dict(doc)
    http = [{"target": to_str(as_dict(h).get("Target")), "url": to_str(as_dict(h).get("Url")),
             "ok": bool(to_bool(as_dict(h).get("Ok"))), "status": to_int(as_dict(h).get("Status")),
             "error": to_str(as_dict(h).get("Error"))} for h in as_list(d.get("Http")) if isinstance(h, dict)]
    cleanup = as_dict(d.get("Cleanup"))
    return {
        "ran": bool(to_bool(d.get("Ran"))), "skipped": to_str(d.get("Skipped")), "image": to_str(d.get("Image")),
        "image_present_before": to_bool(d.get("ImagePresentBefore")), "port": to_int(d.get("Port")),
        "bind_address": to_str(d.get("BindAddress")), "container": to_str(d.get("Container")),
        "run_exit_code": to_int(d.get("RunExitCode")), "run_stderr": (to_str(d.get("RunStderr")) or "")[:2000],
        "running": bool(to_bool(d.get("Running"))), "docker_port": to_str(d.get("DockerPort")),
        "listeners": tcp_rows(d.get("Listeners")), "primary_ipv4": to_str(d.get("PrimaryIPv4")), "http": http,
        "leftovers_removed": [str(x) for x in as_list(d.get("LeftoversRemoved"))],
        "cleanup": {"attempted": bool(to_bool(cleanup.get("Attempted"))), "removed": to_bool(cleanup.get("Removed")),
                    "remaining": to_int(cleanup.get("Remaining")), "port_released": to_bool(cleanup.get("PortReleased"))},
        "transcript": [str(t) for t in as_list(d.get("Transcript"))][:200],
    }


@register_parser("mirrored.probe")
@guarded
def parse_probe(out: CollectorOutput) -> dict[str, Any]:
    return probe_doc(load_json(first_json_value(out.text()), "the windows_probe JSON object"))
