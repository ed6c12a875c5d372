"""The Windows deriver ``mirrored.windows``: audit facts -> check-ready facts (pure, never raises on odd input).

Every key it returns is always present, so playbook expressions stay short. Where a rule rests on
inference (domain.md marks it), the fact carries a ``note``.
"""

from __future__ import annotations

import re
from typing import Any

from auditor.mirrored.shapes import as_dict, as_list, b64bytes, to_int
from auditor.mirrored.versions import older_than, same_minor
from auditor.mirrored.wslconfig import parse_wslconfig
from auditor.mirrored.wslconfig_effective import effective_settings, mirrored_support
from auditor.rules import register_deriver

BACKEND_PROCS = {"com.docker.backend", "com.docker.proxy", "vpnkit"}   # Docker Desktop's port owners (old and new)
RELAY_PROCS = {"wslrelay", "wslhost"}
DD_PROCS = ("com.docker.backend", "Docker Desktop")
ODD_MODES = ("none", "bridged", "virtioproxy", "consomme", "invalid")
EXPERIMENTAL_ONLY = ("hostaddressloopback", "ignoredports", "automemoryreclaim", "sparsevhd",
                     "dnstunnelingipaddress", "besteffortdnsparsing", "initialautoproxytimeout")
# WSL's event-log warnings (provider WSL, Event ID 0) that matter here; texts from Resources.resw.
EVENT_KINDS = (
    ("mirrored-fallback", re.compile(r"mirrored networking mode is not supported", re.I)),
    ("network-fallback", re.compile(r"failed to configure network", re.I)),
    ("policy-override", re.compile(r"disabled by the computer policy", re.I)),
    ("invalid-mode", re.compile(r"invalid (value .*networkingmode|networking mode)", re.I)),
    ("unknown-key", re.compile(r"unknown key", re.I)),
    ("localhost-forwarding-ignored", re.compile(r"localhostforwarding setting has no effect", re.I)),
    ("firewall-unsupported", re.compile(r"hyper-v firewall is not supported", re.I)),
    ("dns-tunneling-unsupported", re.compile(r"dns tunneling is not supported", re.I)),
)
MIN_WSL_FOR_DD = "2.1.5"         # Docker Desktop 4.42+ (docker/docs release notes)
MIN_WSL_PORT_FIX = "2.0.14"      # "Allow port binds from different network namespaces" (WSL 2.0.14)


def _lower(s: Any) -> str:
    return str(s or "").strip().lower()


def _leaf(name: Any) -> str:
    return _lower(name).replace("/", "\\").rsplit("\\", 1)[-1].split(".")[0]


def wsl_package(audit: dict[str, Any]) -> dict[str, Any]:
    wsl = as_dict(audit.get("wsl"))
    wv = as_dict(as_dict(audit.get("wsl_version")).get("values"))
    for source, version in (("msi", wsl.get("msi_version")), ("appx", wsl.get("appx_version")), ("wsl --version", wv.get("wsl"))):
        if version:
            break
    else:
        source, version = None, None
    return {"installed": version is not None, "version": version, "source": source,
            "kernel": wv.get("kernel"),
            "below_docker_minimum": older_than(version, MIN_WSL_FOR_DD) if version else None,
            "below_port_fix": older_than(version, MIN_WSL_PORT_FIX) if version else None,
            "is_2_9": same_minor(version, "2.9") if version else False}


def wsl_policy(audit: dict[str, Any]) -> dict[str, Any]:
    p = as_dict(as_dict(audit.get("wsl")).get("policy"))
    default, allow = p.get("default_networking_mode"), p.get("allow_networking_mode_user_setting")
    return {"default_networking_mode": default, "allow_networking_mode_user_setting": allow,
            "allow_firewall_user_setting": p.get("allow_firewall_user_setting"),
            "nat_enforced": allow == 0 and default in (None, 1),
            "forces_mirrored": default == 3,
            "raw": {"DefaultNetworkingMode": default, "AllowNetworkingModeUserSetting": allow,
                    "AllowFirewallUserSetting": p.get("allow_firewall_user_setting")}}


def analyse_profile(prof: dict[str, Any], audit: dict[str, Any], policy: dict[str, Any], wsl_version: str | None) -> dict[str, Any]:
    """One profile: parsed .wslconfig, effective prediction, file problems (W-CFG-01), key issues (W-CFG-03)."""
    os_ = as_dict(audit.get("os"))
    wc = as_dict(prof.get("wslconfig"))
    path = (prof.get("path") or "%USERPROFILE%").rstrip("\\") + "\\.wslconfig"
    out: dict[str, Any] = {"user": prof.get("user"), "account": prof.get("account"), "sid": prof.get("sid"),
                           "path": path, "loaded": prof.get("loaded"), "has_wslconfig": bool(wc),
                           "configured_mode": None, "effective_mode": "nat", "mode_source": "default",
                           "mode_line": None, "mode_key": None, "ignored_ports": [], "last_write_utc": wc.get("last_write_utc"),
                           "encoding": None, "readable_by_wsl": None, "sha256": None, "size": wc.get("length"),
                           "file_problems": [], "issues": [], "warnings": [], "adjustments": [], "unknowns": [],
                           "lines": [],
                           "variants": [v for v in prof.get("variants", []) if _lower(v) != ".wslconfig"]}
    for v in out["variants"]:
        out["file_problems"].append(f"stray file {v!r} next to .wslconfig (WSL reads only '.wslconfig')")
    data = b64bytes(wc.get("base64")) if wc else None
    if wc and data is None:
        out["file_problems"].append(f"could not read the file: {wc.get('error') or 'no content'}")
    cfg = parse_wslconfig(data if data is not None else b"", path=path)
    if data is not None:
        d = cfg.decoded
        out.update(encoding=d.encoding, readable_by_wsl=d.readable_by_wsl, sha256=d.sha256)
        if (to_int(wc.get("length")) or d.size) > 65536 or d.truncated:
            out["file_problems"].append("larger than 64 KiB: only the first 64 KiB were examined")
        for w in d.warnings:
            out["file_problems"].append(w.message)
        nm = cfg.settings.get("wsl2.networkingMode")
        out["configured_mode"] = cfg.configured_mode
        if nm is not None:
            out["mode_line"], out["mode_key"] = nm.line, nm.name
        out["warnings"] = [w.to_dict() for w in cfg.warnings]
        out["issues"] = _key_issues(cfg)
        out["lines"] = list(d.lines)  # [{n, text}]: the report draws the file with line numbers
    eff = effective_settings(cfg, policy=policy["raw"], windows_build=to_int(os_.get("build")), ubr=to_int(os_.get("ubr")),
                             ipv6_disabled_components=os_.get("ipv6_disabled_components"), wsl_version=wsl_version,
                             installation_type=os_.get("installation_type"))
    out.update(effective_mode=eff.mode, mode_source=eff.mode_source, ignored_ports=list(eff.ignored_ports),
               adjustments=[a.to_dict() for a in eff.adjustments], unknowns=list(eff.unknowns),
               predicted_wsl_warnings=list(eff.wsl_warnings))
    return out


def _key_issues(cfg: Any) -> list[dict[str, Any]]:
    """W-CFG-03: misplaced keys, ';' lines, bad booleans, duplicates, localhostForwarding under mirrored."""
    issues = []
    for occ in cfg.unknown_keys:
        key = occ.name.split(".")[-1].lower()
        hint = " (it is an [experimental]-only key)" if occ.section.lower() == "wsl2" and key in EXPERIMENTAL_ONLY else ""
        issues.append({"line": occ.line, "kind": "unknown-key", "text": f"unknown key '{occ.name}'{hint}: WSL ignores it"})
    for w in cfg.warnings:
        if w.code in ("invalid-key-name", "invalid-boolean", "duplicate-key", "invalid-enum", "invalid-section", "expected", "invalid-escape"):
            issues.append({"line": w.line, "kind": w.code, "text": w.message})
    lf = cfg.settings.get("wsl2.localhostForwarding")
    if lf is not None and cfg.configured_mode == "mirrored":
        issues.append({"line": lf.line, "kind": "localhost-forwarding-ignored",
                       "text": "wsl2.localhostForwarding has no effect in mirrored mode (WSL warns about it)"})
    return sorted(issues, key=lambda i: (i["line"] or 0))


def _dd_owner(audit: dict[str, Any]) -> str | None:
    for want in DD_PROCS:
        for p in as_list(audit.get("processes")):
            if as_dict(p).get("name") == want and as_dict(p).get("user"):
                return str(p["user"])
    return None


def _match_profile(profiles: list[dict[str, Any]], user: str) -> dict[str, Any] | None:
    exact = [p for p in profiles if _lower(p.get("account")) == _lower(user)]
    if exact:
        return exact[0]
    leaf = [p for p in profiles if _leaf(p.get("account") or p.get("path")) == _leaf(user)]
    return leaf[0] if len(leaf) == 1 else None


def _has_docker_traces(p: dict[str, Any]) -> bool:
    return bool(p.get("docker_settings")) or any(_lower(d.get("name")).startswith("docker-desktop") for d in as_list(p.get("lxss_distros"))) \
        or bool(p.get("docker_uninstall"))


def relevant_profile(audit: dict[str, Any], analysed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """W-CFG-04: whose .wslconfig decides Docker Desktop's networking (the user running Docker Desktop)."""
    profiles = [p for p in as_list(audit.get("profiles")) if isinstance(p, dict)]
    owner = _dd_owner(audit)
    base = {"status": "none", "user": None, "sid": None, "path": None, "dd_owner": owner, "reason": "", "candidates": []}
    if owner:
        prof = _match_profile(profiles, owner)
        if prof is not None:
            return {**base, "status": "owner", "user": owner, "sid": prof.get("sid"), "path": analysed[prof.get("sid") or ""]["path"],
                    "reason": f"Docker Desktop runs as {owner}"}
        base["reason"] = f"Docker Desktop runs as {owner} but no profile on disk matches that account"
        return {**base, "status": "unmatched"}
    cands = [p for p in profiles if _has_docker_traces(p)]
    base["candidates"] = [p.get("account") or p.get("user") for p in cands]
    if len(cands) == 1:
        p = cands[0]
        return {**base, "status": "single-candidate", "user": p.get("account") or p.get("user"), "sid": p.get("sid"),
                "path": analysed[p.get("sid") or ""]["path"],
                "reason": "Docker Desktop is not running; the only profile with Docker Desktop settings or distros"}
    if len(cands) > 1:
        return {**base, "status": "ambiguous", "reason": "Docker Desktop is not running and several profiles have Docker Desktop settings"}
    with_cfg = [p for p in profiles if p.get("wslconfig")]
    if len(with_cfg) == 1:
        p = with_cfg[0]
        return {**base, "status": "single-candidate", "user": p.get("account") or p.get("user"), "sid": p.get("sid"),
                "path": analysed[p.get("sid") or ""]["path"], "reason": "no Docker Desktop traces; the only profile with a .wslconfig"}
    return {**base, "reason": "no Docker Desktop owner and no single candidate profile"}


def docker_desktop(audit: dict[str, Any], rel_prof: dict[str, Any] | None) -> dict[str, Any]:
    """W-DD-01..04: install, version, backend (with the evidence used), running/owner, network settings."""
    dd = as_dict(audit.get("docker_desktop"))
    dk = as_dict(audit.get("docker"))
    ver = as_dict(dk.get("version"))
    un = as_dict(dd.get("uninstall")) or next((as_dict(p.get("docker_uninstall")) for p in as_list(audit.get("profiles"))
                                               if as_dict(p).get("docker_uninstall")), {})
    procs = [p for p in as_list(audit.get("processes")) if as_dict(p).get("name") in DD_PROCS + ("com.docker.build",)]
    running = any(as_dict(p).get("name") == "com.docker.backend" for p in procs) or any(as_dict(p).get("name") == "Docker Desktop" for p in procs)
    installed = bool(un) or running or bool(ver.get("is_docker_desktop"))
    # settings of the relevant profile, settings-store.json (4.35+) before legacy settings.json
    files = sorted(as_list((rel_prof or {}).get("docker_settings")), key=lambda s: s.get("name") != "settings-store.json")
    user_settings = next((s["settings"] for s in files if s.get("settings")), None) or {}
    admin = as_dict(dd.get("admin_settings"))
    locked = as_dict(admin.get("wsl_engine_enabled"))
    kernel = ver.get("kernel") or ""
    evidence = []
    backend: bool | None = None
    if "microsoft-standard-wsl2" in kernel.lower():
        backend, evidence = True, [f"engine kernel {kernel}"]
    elif "linuxkit" in kernel.lower():
        backend, evidence = False, [f"engine kernel {kernel} (Hyper-V LinuxKit VM)"]
    elif locked.get("locked") and locked.get("value") is not None:
        backend, evidence = bool(locked["value"]), [f"admin-settings.json linuxVM.wslEngineEnabled={locked['value']} (locked)"]
    elif user_settings.get("wsl_engine_enabled") is not None:
        backend = bool(user_settings["wsl_engine_enabled"])
        evidence = [f"{user_settings.get('file')} WslEngineEnabled={backend}"]
    if user_settings.get("use_windows_containers"):
        evidence.append("Docker Desktop is switched to Windows containers")
    pbb = as_dict(admin.get("port_binding_behavior")).get("value")
    version = un.get("display_version") or ver.get("desktop_version")
    hostnet = user_settings.get("host_networking_enabled")
    return {
        "installed": installed, "version": version, "install_location": un.get("install_location"),
        "platform": ver.get("platform"), "running": running,
        "owner": _dd_owner(audit), "processes": procs,
        "wsl2_backend": backend if installed else None, "backend_evidence": evidence,
        "windows_containers": bool(user_settings.get("use_windows_containers")),
        "settings_file": user_settings.get("file"),
        "vpnkit_cidr": as_dict(admin.get("vpnkit_cidr")).get("value") or user_settings.get("vpnkit_cidr") or "192.168.65.0/24",
        "host_networking_enabled": hostnet, "kernel_for_udp": user_settings.get("kernel_for_udp"),
        "network_type": user_settings.get("network_type"), "port_binding_behavior": pbb,
        "admin_locked_keys": admin.get("locked_keys", []),
        "is_4_39_0": version is not None and str(version).startswith("4.39.0"),
        "is_4_43_with_host_networking": bool(version and same_minor(version, "4.43") and hostnet),
        "docker_reachable": bool(dk.get("reachable")), "docker_error": dk.get("error"),
    }


def published_ports(audit: dict[str, Any]) -> dict[str, Any]:
    """W-NET-01: every host port a running container publishes, and who listens on it on Windows."""
    dk = as_dict(audit.get("docker"))
    tcp = [r for r in as_list(audit.get("tcp_listen")) if as_dict(r).get("state") in ("Listen", None)]
    udp = as_list(audit.get("udp"))
    rows = []
    for c in as_list(dk.get("ps")):
        c = as_dict(c)
        if c.get("state") not in ("running", None):
            continue
        for p in as_list(c.get("ports")):
            if p.get("host_port") is None:
                continue
            table = tcp if p.get("proto") == "tcp" else udp
            ls = [{"address": r.get("address"), "port": r.get("port"), "process": r.get("process"), "pid": r.get("pid")}
                  for r in table if as_dict(r).get("port") == p["host_port"]]
            procs = {_lower(r.get("process")) for r in ls}
            if not ls:
                status = "missing"
            elif procs & BACKEND_PROCS:
                status = "ok"
            elif procs <= RELAY_PROCS:
                status = "wslrelay-only"
            else:
                status = "foreign"
            rows.append({"container": c.get("name"), "id": (c.get("id") or "")[:12], "host_ip": p.get("host_ip"),
                         "port": p["host_port"], "proto": p.get("proto"), "listeners": ls, "status": status})
    return {"docker_reachable": bool(dk.get("reachable")) and dk.get("ps") is not None, "rows": rows,
            "ports": sorted({r["port"] for r in rows}),
            "missing": [r for r in rows if r["status"] == "missing"],
            "foreign": [r for r in rows if r["status"] in ("foreign", "wslrelay-only")]}


def wsl_event_warnings(audit: dict[str, Any]) -> dict[str, Any]:
    matched = []
    for e in as_list(audit.get("wsl_events")):
        msg = str(as_dict(e).get("message") or "")
        kinds = [k for k, rx in EVENT_KINDS if rx.search(msg)]
        if kinds:
            matched.append({"time_utc": e.get("time_utc"), "kinds": kinds, "message": msg[:500]})
    kinds = sorted({k for m in matched for k in m["kinds"]})
    return {"events": matched, "kinds": kinds, "count": len(matched),
            "fallback": any(k in kinds for k in ("mirrored-fallback", "network-fallback")),
            "policy_override": "policy-override" in kinds,
            "note": "events are per machine, not per user; the last 14 days (at most 200) are read"}


def hotspots(audit: dict[str, Any], ports: list[int]) -> list[dict[str, Any]]:
    """W-NET-04: well-known ports held by a non-Docker Windows process (bind collisions under mirrored)."""
    rows = []
    for table, proto in ((as_list(audit.get("tcp_listen")), "tcp"), (as_list(audit.get("udp")), "udp")):
        for r in table:
            r = as_dict(r)
            if r.get("port") in ports and _lower(r.get("process")) not in BACKEND_PROCS | RELAY_PROCS:
                rows.append({"proto": proto, "address": r.get("address"), "port": r.get("port"),
                             "process": r.get("process") or ("System" if r.get("pid") == 4 else None), "pid": r.get("pid")})
    return rows


def pending_restart(audit: dict[str, Any], rel: dict[str, Any] | None) -> dict[str, Any]:
    """W-CFG-05: .wslconfig written after the (only) WSL VM started => not applied yet."""
    vms = [p for p in as_list(audit.get("processes")) if as_dict(p).get("name") in ("vmmemWSL", "vmmem")]
    written = (rel or {}).get("last_write_utc")
    out = {"vm_running": bool(vms), "vm_count": len(vms), "vm_start_utc": None, "file_write_utc": written, "pending": False,
           "note": ""}
    if len(vms) == 1 and vms[0].get("start_utc") and written:
        out["vm_start_utc"] = vms[0]["start_utc"]
        out["pending"] = str(written) > str(vms[0]["start_utc"])   # ISO-8601 UTC strings compare in time order
    elif len(vms) > 1:
        out["note"] = "several WSL VMs run (one per user); cannot tell which belongs to the relevant user"
    return out


def probe_result(facts: dict[str, Any], rel: dict[str, Any] | None) -> dict[str, Any]:
    """W-PROBE-01 outcome per domain.md 6.3 step 8: pass / fail / warn / inconclusive."""
    probe = facts.get("probe")
    if not isinstance(probe, dict):
        err = as_dict(facts.get("_errors")).get("probe")
        return {"outcome": "inconclusive", "reasons": [err or "the probe did not run"], "ran": False, "cleanup_ok": None}
    reasons: list[str] = []
    cleanup = as_dict(probe.get("cleanup"))
    cleanup_ok = None if not cleanup.get("attempted") else bool(cleanup.get("removed")) and cleanup.get("port_released") is not False
    http = {h.get("target"): h for h in as_list(probe.get("http"))}
    local_ok = as_dict(http.get("127.0.0.1")).get("ok")
    lan = http.get(probe.get("primary_ipv4")) if probe.get("primary_ipv4") else None
    procs = {_lower(r.get("process")) for r in as_list(probe.get("listeners"))}
    outcome = "pass"
    if probe.get("skipped"):
        outcome, reasons = "inconclusive", [str(probe["skipped"])]
    elif probe.get("run_exit_code") not in (0, None):
        if "address already in use" in _lower(probe.get("run_stderr")):
            outcome, reasons = "fail", [f"docker run failed: {probe.get('run_stderr')}"]
        else:
            outcome, reasons = "inconclusive", [f"docker run failed: {probe.get('run_stderr')}"]
    elif not probe.get("running"):
        outcome, reasons = "inconclusive", ["the probe container never reached Running"]
    else:
        if not procs and not local_ok:
            outcome, reasons = "fail", [f"no Windows listener on port {probe.get('port')} and http://127.0.0.1 failed"]
        else:
            if not procs & BACKEND_PROCS:
                outcome = "warn"
                reasons.append("no com.docker.backend listener" + (f" (held by {', '.join(sorted(procs))})" if procs else "")
                               + ("; 127.0.0.1 answers through the WSL mirrored loopback path" if local_ok else ""))
            if not local_ok:
                outcome = "warn"
                reasons.append("http://127.0.0.1 failed")
            if lan is not None and not lan.get("ok"):
                outcome = "warn"
                reasons.append(f"request to the host's LAN IPv4 {probe.get('primary_ipv4')} failed (microsoft/WSL#41284 pattern)")
    if probe.get("port") in ((rel or {}).get("ignored_ports") or []):
        reasons.append(f"port {probe.get('port')} is in experimental.ignoredPorts: the probe tests the mitigated path")
    if cleanup_ok is False:
        reasons.append("CLEANUP INCOMPLETE: a probe container or the port may be left; see the transcript")
    return {"outcome": outcome, "reasons": reasons, "ran": bool(probe.get("ran")), "port": probe.get("port"),
            "cleanup_ok": cleanup_ok, "listeners": probe.get("listeners"), "http": probe.get("http"),
            "transcript": probe.get("transcript"), "leftovers_removed": probe.get("leftovers_removed")}


def _defaults() -> dict[str, Any]:
    return {"audit_ok": False, "os_support": {}, "ipv6": {}, "wsl_package": {}, "wsl_policy": {}, "profile_configs": [],
            "wslconfig_files": [], "wslconfig_issues": [], "relevant": {"status": "none", "configured_mode": None,
            "effective_mode": None, "profile": None,
            "lines": [], "warnings": []}, "mirrored_profiles": [], "docker_desktop": {}, "published_ports": {},
            "wsl_warnings": {}, "hotspots": [], "pending_restart": {}, "ignored_ports": {}, "probe_result": None,
            "effective_observed": None}


@register_deriver("mirrored.windows")
def derive_windows(facts: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    out = _defaults()
    if "probe" in facts or "probe" in as_dict(facts.get("_errors")):
        out["probe_result"] = probe_result(facts, None)
    audit = facts.get("audit")
    if not isinstance(audit, dict):
        return out
    out["audit_ok"] = True
    os_ = as_dict(audit.get("os"))
    build, ubr = to_int(os_.get("build")), to_int(os_.get("ubr"))
    support = mirrored_support(build, ubr, os_.get("installation_type"))
    out["os_support"] = {"build": build, "ubr": ubr, "display_version": os_.get("display_version"),
                         "caption": os_.get("caption"), "installation_type": os_.get("installation_type"),
                         "windows_11": build is not None and build >= 22000, "mirrored_support": support,
                         "version": f"{build}.{ubr}" if build is not None else None,
                         "note": "mirrored needs Windows 11 22H2 22621.2428+ (22621.2359-2427: preview update only); "
                                 "ProductName is not trusted (says 'Windows 10' on Windows 11)"}
    dc = os_.get("ipv6_disabled_components")
    out["ipv6"] = {"disabled_components": dc, "hex": f"0x{dc:X}" if isinstance(dc, int) else None, "all_disabled": dc == 0xFF}
    pkg = wsl_package(audit)
    out["wsl_package"] = pkg
    policy = wsl_policy(audit)
    out["wsl_policy"] = policy
    analysed = {}
    for prof in as_list(audit.get("profiles")):
        if isinstance(prof, dict):
            analysed[prof.get("sid") or ""] = analyse_profile(prof, audit, policy, pkg["version"])
    configs = list(analysed.values())
    out["profile_configs"] = configs
    out["wslconfig_files"] = [{"user": c["user"], "path": c["path"], "encoding": c["encoding"], "size": c["size"],
                               "sha256": c["sha256"], "last_write_utc": c["last_write_utc"], "problems": c["file_problems"]}
                              for c in configs if c["has_wslconfig"] or c["file_problems"]]
    out["wslconfig_issues"] = [{"user": c["user"], "path": c["path"], **i} for c in configs for i in c["issues"]]
    out["mirrored_profiles"] = [c["user"] for c in configs if c["configured_mode"] == "mirrored"]
    rel = relevant_profile(audit, analysed)
    rel_cfg = analysed.get(rel.get("sid") or "\0") if rel.get("sid") is not None else None
    rel_prof = next((p for p in as_list(audit.get("profiles")) if as_dict(p).get("sid") == rel.get("sid")), None) if rel_cfg else None
    out["relevant"] = {**rel, "configured_mode": rel_cfg["configured_mode"] if rel_cfg else None,
                       "effective_mode": rel_cfg["effective_mode"] if rel_cfg else None,
                       "mode_source": rel_cfg["mode_source"] if rel_cfg else None,
                       "mode_line": rel_cfg["mode_line"] if rel_cfg else None,
                       "mode_key": rel_cfg["mode_key"] if rel_cfg else None,
                       "adjustments": rel_cfg["adjustments"] if rel_cfg else [],
                       "lines": rel_cfg["lines"] if rel_cfg else [],
                       "warnings": rel_cfg["warnings"] if rel_cfg else [],
                       "identified": rel["status"] in ("owner", "single-candidate")}
    dd = docker_desktop(audit, rel_prof)
    out["docker_desktop"] = dd
    pub = published_ports(audit)
    out["published_ports"] = pub
    out["wsl_warnings"] = wsl_event_warnings(audit)
    hot_ports = [p for p in (to_int(x) for x in as_list(variables.get("hotspot_ports") or [53, 80, 443, 2375, 6443])) if p]
    out["hotspots"] = hotspots(audit, hot_ports)
    out["pending_restart"] = pending_restart(audit, rel_cfg)
    ignored = (rel_cfg or {}).get("ignored_ports") or []
    uncovered = [p for p in pub["ports"] if p not in ignored]
    out["ignored_ports"] = {"configured": ignored, "published": pub["ports"], "uncovered": uncovered,
                            "coverage": "n/a" if not ignored else "full" if not uncovered else
                            "partial" if len(uncovered) < len(pub["ports"]) else "none"}
    if "probe" in facts or "probe" in as_dict(facts.get("_errors")):
        out["probe_result"] = probe_result(facts, rel_cfg)
    uc = facts.get("user_context")
    if isinstance(uc, dict):
        out["effective_observed"] = {"user": uc.get("user"), "mode": uc.get("mode"), "ran": uc.get("ran"),
                                     "error": uc.get("error"), "loopback0": uc.get("docker_desktop_loopback0"),
                                     "cleanup": uc.get("cleanup")}
    return out
