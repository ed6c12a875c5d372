"""Scenario (YAML) -> host model with its state."""

from __future__ import annotations

import json
from datetime import timedelta

from auditor.lab.models.edge import EdgeContainer, EdgeHostModel, EdgeState
from auditor.lab.models.windows import MirroredWindowsModel
from auditor.lab.models.windows_state import LAB_EPOCH, Container, DockerDesktop, Listener, UserProfile, WindowsState
from auditor.lab.scenarios import Scenario, UserSpec, parse_port

_BOMS = {"utf-8": (b"", "utf-8"), "utf-8-bom": (b"\xef\xbb\xbf", "utf-8"), "utf-16le-bom": (b"\xff\xfe", "utf-16-le"),
         "utf-16le": (b"", "utf-16-le"), "utf-16be-bom": (b"\xfe\xff", "utf-16-be")}


def encode_text(text: str, encoding: str, newline: str = "crlf") -> bytes:
    """The bytes an editor writes: ``encoding`` as named in scenarios, CRLF or LF line ends."""
    text = text.replace("\r\n", "\n")
    if newline == "crlf":
        text = text.replace("\n", "\r\n")
    bom, codec = _BOMS[encoding]
    return bom + text.encode(codec)


def _user(spec: UserSpec, rid: int, sc: Scenario) -> UserProfile:
    win = sc.windows
    assert win is not None
    dd = win.docker_desktop
    owner = dd is not None and dd.owner is not None and dd.owner.lower() == spec.name.lower()
    u = UserProfile(spec.name, domain=spec.domain, rid=rid, loaded=spec.loaded, logged_on=spec.logged_on,
                    wslconfig_error=spec.wslconfig_error, variants=list(spec.variants),
                    wslconfig_mtime=LAB_EPOCH - timedelta(minutes=spec.wslconfig_modified_minutes_ago))
    if spec.wslconfig is not None:
        u.wslconfig = encode_text(spec.wslconfig, spec.encoding, spec.newline)
    if spec.previous_wslconfig is not None:
        u.previous_wslconfig = encode_text(spec.previous_wslconfig, spec.encoding, spec.newline)
        u.previous_mtime = LAB_EPOCH - timedelta(minutes=spec.previous_modified_minutes_ago)
        if spec.previous_backup:
            stamp = u.wslconfig_mtime.strftime("%Y%m%dT%H%M%SZ")
            u.wslconfig_backup = (f"wslconfig-{stamp}.bak", u.previous_wslconfig, u.previous_mtime)
    u.processes = list(spec.processes)
    u.distro_engine = spec.distro_engine
    if spec.docker_settings is not None:
        u.docker_settings[spec.docker_settings.file] = json.dumps(spec.docker_settings.values, indent=2).encode()
    elif owner and dd is not None:
        u.docker_settings["settings-store.json"] = json.dumps({
            "AutoStart": True, "EnableIntegrationWithDefaultWslDistro": True, "HostNetworkingEnabled": False,
            "IntegratedWslDistros": [], "KernelForUDP": False, "NetworkType": "gvisor", "SettingsVersion": 40,
            "UseWindowsContainers": False, "VpnKitAllowedBindAddresses": "0.0.0.0", "VpnkitCIDR": "192.168.65.0/24",
            "WslEngineEnabled": dd.backend == "wsl2"}, indent=2).encode()
    if spec.distros is not None:
        u.distros = list(spec.distros)
    elif win.wsl.version:
        u.distros = ["Ubuntu-24.04"] + (["docker-desktop"] if owner and dd is not None and dd.backend == "wsl2" else [])
    if spec.vm is not None and spec.vm.running:
        u.vm_started = LAB_EPOCH - timedelta(minutes=spec.vm.started_minutes_ago)
        u.vm_mode = spec.vm.mode
    return u


def windows_model(sc: Scenario, hostname: str, user: str = "auditor") -> MirroredWindowsModel:
    win = sc.windows
    assert win is not None
    state = WindowsState(hostname=hostname.upper(), build=win.build, ubr=win.ubr, edition=win.edition,
                         installation_type=win.installation_type, ipv6_disabled_components=win.ipv6_disabled_components,
                         wsl_msi_version=win.wsl.version, wsl_policy=dict(win.wsl.policy),
                         primary_ipv4=win.primary_ipv4, ps51_unwrap=win.ps51_unwrap)
    state.users = [_user(u, 1001 + i, sc) for i, u in enumerate(win.users)]
    if win.docker_desktop is not None:
        d = win.docker_desktop
        owner = state.user(d.owner)
        state.docker = DockerDesktop(
            version=d.version, owner=owner.name if owner else None, backend=d.backend, pipe=d.pipe,
            per_user_install=d.per_user_install, probe_image_present=d.probe_image_present,
            admin_settings=json.dumps(d.admin_settings, indent=2).encode() if d.admin_settings is not None else None,
            install_location=(f"C:\\Users\\{d.owner}\\AppData\\Local\\Programs\\DockerDesktop" if d.per_user_install and d.owner
                              else "C:\\Program Files\\Docker\\Docker"),
            unforwarded_ports=list(d.unforwarded_ports),
            containers=[Container(c.name, c.image, [parse_port(p) for p in c.ports], dict(c.labels), network_mode=c.network_mode)
                        for c in d.containers])
    state.listeners = [Listener(x.port, x.process, x.address, udp=x.udp) for x in win.listeners]
    state.events = [(LAB_EPOCH - timedelta(hours=2, minutes=i), m) for i, m in enumerate(win.events)]
    return MirroredWindowsModel(state, user=user)


def edge_model(sc: Scenario, hostname: str) -> EdgeHostModel:
    e = sc.edge
    assert e is not None
    state = EdgeState(hostname=hostname, os=e.os, kernel=e.kernel, engine=e.engine, engine_version=e.engine_version,
                      desktop_version=e.desktop_version, wsl=e.wsl, lan_ifname=e.lan.ifname, lan_address=e.lan.address,
                      lan_gateway=e.lan.gateway, rootless=e.rootless, dd_subnet=e.dd_subnet,
                      containers=[EdgeContainer(c.name, c.image, c.network_mode, dict(c.labels), ip_tool=c.ip_tool)
                                  for c in e.containers])
    return EdgeHostModel(state)
