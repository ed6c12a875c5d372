"""The Windows deriver ``mirrored.windows``: audit facts -> check-ready facts (pure, never raises on odd input).

Every key it returns is always present, so playbook expressions stay short. Where a rule rests on
inference (docs/research/domain.md marks it), the fact carries a ``note``.
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
MIN_ENGINE_MIRRORED_FIX = "27.3"  # moby#48514 (27.x backport of moby#48075); exact first release unverified (docs/research/domain.md 2.1)


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
    inbox = version is None and any(_lower(as_dict(x).get("name")) == "lxssmanager" for x in as_list(wsl.get("services")))
    return {"installed": version is not None, "version": version, "source": source,
            "inbox_only": inbox, "kernel": wv.get("kernel"),
            "below_docker_minimum": older_than(version, MIN_WSL_FOR_DD) if version else None,
            "below_port_fix": older_than(version, MIN_WSL_PORT_FIX) if version else None,
            "is_2_9": same_minor(version, "2.9") if version else False}


def wsl_policy(audit: dict[str, Any]) -> dict[str, Any]:
    p = as_dict(as_dict(audit.get("wsl")).get("policy"))
    default, allow = p.get("default_networking_mode"), p.get("allow_networking_mode_user_setting")
    raw = {"DefaultNetworkingMode": default, "AllowNetworkingModeUserSetting": allow,
           "AllowFirewallUserSetting": p.get("allow_firewall_user_setting"),
           "AllowWSL": p.get("allow_wsl"), "AllowInboxWSL": p.get("allow_inbox_wsl")}
    return {"default_networking_mode": default, "allow_networking_mode_user_setting": allow,
            "allow_firewall_user_setting": p.get("allow_firewall_user_setting"),
            "allow_wsl": p.get("allow_wsl"), "allow_inbox_wsl": p.get("allow_inbox_wsl"),
            "nat_enforced": allow == 0 and default in (None, 1),
            "forces_mirrored": default == 3,
            "user_setting_blocked": allow == 0,
            "raw": raw}


def _predict(cfg: Any, audit: dict[str, Any], policy: dict[str, Any], pkg: dict[str, Any]) -> Any:
    os_ = as_dict(audit.get("os"))
    return effective_settings(cfg, policy=policy["raw"], windows_build=to_int(os_.get("build")), ubr=to_int(os_.get("ubr")),
                              ipv6_disabled_components=os_.get("ipv6_disabled_components"), wsl_version=pkg.get("version"),
                              installation_type=os_.get("installation_type"), inbox_only=bool(pkg.get("inbox_only")))


def other_engines(prof: dict[str, Any], audit: dict[str, Any]) -> list[dict[str, str]]:
    """Container engines other than Docker Desktop that live in this user's WSL VM (their distros share its
    networking mode): Podman Desktop (podman-machine-* distros, gvproxy), Rancher Desktop (rancher-desktop)."""
    found: dict[str, list[str]] = {}
    for d in as_list(prof.get("lxss_distros")):
        name = _lower(as_dict(d).get("name"))
        if name.startswith("podman-machine"):
            found.setdefault("Podman Desktop", []).append(f"WSL distro {as_dict(d).get('name')}")
        elif name.startswith("rancher-desktop"):
            found.setdefault("Rancher Desktop", []).append(f"WSL distro {as_dict(d).get('name')}")
    acct = _lower(prof.get("account"))
    for p in as_list(audit.get("processes")):
        p = as_dict(p)
        if acct and _lower(p.get("user")) == acct:
            if _lower(p.get("name")) in ("gvproxy", "win-sshproxy", "podman desktop"):
                found.setdefault("Podman Desktop", []).append(f"process {p.get('name')}")
            elif _lower(p.get("name")) in ("rancher desktop", "host-switch"):
                found.setdefault("Rancher Desktop", []).append(f"process {p.get('name')}")
    return [{"engine": k, "evidence": ", ".join(v)} for k, v in sorted(found.items())]


def analyse_profile(prof: dict[str, Any], audit: dict[str, Any], policy: dict[str, Any], pkg: dict[str, Any]) -> dict[str, Any]:
    """One profile: parsed .wslconfig, effective prediction, file problems (W-CFG-01), key issues (W-CFG-03)."""
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
    eff = _predict(cfg, audit, policy, pkg)
    out.update(effective_mode=eff.mode, mode_source=eff.mode_source, ignored_ports=list(eff.ignored_ports),
               adjustments=[a.to_dict() for a in eff.adjustments], unknowns=list(eff.unknowns),
               predicted_wsl_warnings=list(eff.wsl_warnings), blocked=eff.blocked,
               engines=other_engines(prof, audit), backup_mode=None, backup_write_utc=None, backup_name=None)
    bk = as_dict(prof.get("wslconfig_backup"))
    bk_data = b64bytes(bk.get("base64")) if bk else None
    if bk_data is not None:
        old = _predict(parse_wslconfig(bk_data, path=path), audit, policy, pkg)
        out.update(backup_mode=old.mode, backup_write_utc=bk.get("last_write_utc"), backup_name=bk.get("name"))
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
    base: dict[str, Any] = {"status": "none", "user": None, "sid": None, "path": None, "dd_owner": owner, "reason": "",
                            "candidates": []}
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
    admin_hostnet = as_dict(admin.get("host_networking_enabled"))
    hostnet = admin_hostnet.get("value") if admin_hostnet.get("locked") else user_settings.get("host_networking_enabled")
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


def _utc(value: Any) -> str:
    """ISO-8601 UTC as PowerShell writes it, cut to seconds so strings compare in time order."""
    return str(value or "")[:19]


def pending_restart(audit: dict[str, Any], rel: dict[str, Any] | None) -> dict[str, Any]:
    """W-CFG-05: .wslconfig written after the (only) WSL VM started => not applied yet; and the mode the running
    VM started with, when it is known: the file unchanged since the start (the prediction applies), or changed
    after it with auditor's backup of the earlier file (written before the start) showing what the VM read."""
    vms = [p for p in as_list(audit.get("processes")) if as_dict(p).get("name") in ("vmmemWSL", "vmmem")]
    rel = rel or {}
    written = rel.get("last_write_utc")
    out: dict[str, Any] = {"vm_running": bool(vms), "vm_count": len(vms), "vm_start_utc": None, "file_write_utc": written,
                           "pending": False, "started_mode": None, "started_mode_source": None, "note": ""}
    if len(vms) == 1 and vms[0].get("start_utc"):
        start = vms[0]["start_utc"]
        out["vm_start_utc"] = start
        out["pending"] = bool(written) and _utc(written) > _utc(start)
        if not out["pending"]:
            out["started_mode"], out["started_mode_source"] = rel.get("effective_mode"), "the .wslconfig is unchanged since the VM started"
        elif rel.get("backup_mode") and _utc(rel.get("backup_write_utc")) <= _utc(start):
            out["started_mode"] = rel["backup_mode"]
            out["started_mode_source"] = f"the backup {rel.get('backup_name')} holds the file as it was when the VM started"
        else:
            out["note"] = "the .wslconfig changed after the VM started: the running VM's mode is not known"
    elif len(vms) > 1:
        out["note"] = "several WSL VMs run (one per user); cannot tell which belongs to the relevant user"
    return out


def probe_result(facts: dict[str, Any], rel: dict[str, Any] | None) -> dict[str, Any]:
    """W-PROBE-01 outcome per docs/research/domain.md 6.3 step 8: pass / fail / warn / inconclusive."""
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
            "effective_observed": None, "effective_mirrored_profiles": [], "host_network_containers": {}, "engines": [],
            "fix": {"kind": "none", "edits": [], "user": None}}


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
            analysed[prof.get("sid") or ""] = analyse_profile(prof, audit, policy, pkg)
    configs = list(analysed.values())
    out["profile_configs"] = configs
    out["wslconfig_files"] = [{"user": c["user"], "path": c["path"], "encoding": c["encoding"], "size": c["size"],
                               "sha256": c["sha256"], "last_write_utc": c["last_write_utc"], "problems": c["file_problems"]}
                              for c in configs if c["has_wslconfig"] or c["file_problems"]]
    out["wslconfig_issues"] = [{"user": c["user"], "path": c["path"], **i} for c in configs for i in c["issues"]]
    out["mirrored_profiles"] = [c["user"] for c in configs if c["configured_mode"] == "mirrored"]
    out["effective_mirrored_profiles"] = [c["user"] for c in configs if c["effective_mode"] == "mirrored"]
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
                       "blocked": rel_cfg["blocked"] if rel_cfg else None,
                       "account": rel_cfg["account"] if rel_cfg else None,
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
                                     "cleanup": uc.get("cleanup"), "distro_engine_version": uc.get("distro_engine_version"),
                                     "distro_engine_raw": uc.get("distro_engine_raw")}
    out["host_network_containers"] = host_network_containers(audit, dd)
    out["engines"] = engine_risks(out)
    from auditor.mirrored.windows_rules import decide   # the rules read these facts; the remediation playbooks read the fix

    out["fix"] = decide(out).fix
    return out


def host_network_containers(audit: dict[str, Any], dd: dict[str, Any]) -> dict[str, Any]:
    """Seed (b) on a Windows host: containers in network_mode host on Docker Desktop live in Docker Desktop's VM
    namespace; they see its subnet (VpnkitCIDR from the settings), never the Windows LAN interfaces. Desktop's
    host networking (4.34+) only adds layer-4 forwarding to Windows localhost."""
    dk = as_dict(audit.get("docker"))
    names = [str(c.get("name")) for c in as_list(dk.get("inspect")) if as_dict(c).get("network_mode") == "host"
             and as_dict(c).get("running") is not False]
    if not names:
        names = [str(c.get("name")) for c in as_list(dk.get("ps")) if as_list(as_dict(c).get("networks")) == ["host"]]
    on_dd = bool(dd.get("installed")) and (bool(dd.get("docker_reachable")))
    return {"containers": names if on_dd else [], "subnet": dd.get("vpnkit_cidr"),
            "host_networking_enabled": dd.get("host_networking_enabled")}


def engine_risks(f: dict[str, Any]) -> list[dict[str, Any]]:
    """AT_RISK_MIRRORED_ENGINE inputs: engines other than Docker Desktop in a VM whose mode is (or will be) mirrored.
    A Docker Engine inside a distro is only seen through --enable user-context (it asks the engine its version):
    before 27.3 it loses localhost publishing under mirrored networking (moby#48056, backport moby#48514)."""
    observed = as_dict(f.get("effective_observed"))
    out = []
    for c in as_list(f.get("profile_configs")):
        mine = bool(observed) and _leaf(observed.get("user")) == _leaf(c.get("account") or c.get("user"))
        mode = observed.get("mode") if mine and observed.get("mode") else c.get("effective_mode")
        engines = [dict(e) for e in as_list(c.get("engines"))]
        if mine and observed.get("distro_engine_version"):
            v = observed["distro_engine_version"]
            engines.append({"engine": f"Docker Engine {v} in the default WSL distro", "evidence": "docker version (user context)",
                            "too_old": bool(older_than(v, MIN_ENGINE_MIRRORED_FIX))})
        for e in engines:
            e.setdefault("too_old", True)   # Podman / Rancher Desktop: no version that fixes it is known
            out.append({**e, "user": c.get("user"), "account": c.get("account"), "path": c.get("path"), "mode": mode,
                        "at_risk": mode == "mirrored" and e["too_old"]})
    return out
