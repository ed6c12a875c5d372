"""The PowerShell one-liners an Ansible user would write to read what ``windows_audit.ps1`` reads, one ``raw``
task each, and what a simulated Windows host answers to each: the same facts the collector reports for the
host's ``WindowsState``, in the shape Windows PowerShell 5.1 prints them.

They exist so that the benchmark's *idiomatic* ansible-core playbook (bench/ansible_side.py) can send what a
user's playbook sends — a task per fact, not auditor's own collector — and get real answers, and so that someone
poking at a lab host by hand gets the same answers. A host recognises them by their text, whitespace-insensitive
(as ``recognize.windows_collector`` recognises the shipped collectors); any other command stays unknown.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auditor.lab.winrs.model import CommandOutcome

if TYPE_CHECKING:
    from auditor.lab.models.windows import MirroredWindowsModel

CRLF = "\r\n"
_DOCKER_ENV = "$env:DOCKER_HOST = 'npipe:////./pipe/dockerDesktopLinuxEngine'; "
_DOCKER_EXE = "& \"$env:ProgramFiles\\Docker\\Docker\\resources\\bin\\docker.exe\""
#: processes every Windows machine runs, which ``Get-Process`` lists besides the ones the collector keeps
_BASE_PROCESSES = (("System", 4, None), ("svchost", 1088, "NT AUTHORITY\\SYSTEM"), ("lsass", 712, "NT AUTHORITY\\SYSTEM"),
                   ("wininit", 580, "NT AUTHORITY\\SYSTEM"), ("WmiPrvSE", 3312, "NT AUTHORITY\\NETWORK SERVICE"))


@dataclass(frozen=True)
class OneLiner:
    name: str
    command: str
    answer: Callable[[MirroredWindowsModel], CommandOutcome]
    #: a text its output holds on every lab host (the benchmark checks ansible got real answers); None: none fixed
    marker: str | None = None


def _text(text: str, rc: int = 0) -> CommandOutcome:
    return CommandOutcome(text.encode("utf-8"), rc=rc)


def _json(model: MirroredWindowsModel, value: Any) -> CommandOutcome:
    """``ConvertTo-Json -Compress`` of a pipeline's objects; nothing at all when the pipeline yielded none."""
    from auditor.lab.models.windows import ps_json

    if value is None or value == []:
        return CommandOutcome()
    return _text(ps_json(model._many(value) if isinstance(value, list) else value) + CRLF)


def _file_text(data: bytes) -> str:
    """``Get-Content -Raw``: PowerShell honours a BOM (wsl.exe's own tools write UTF-16LE), else reads UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def _os(model: MirroredWindowsModel) -> CommandOutcome:
    os_ = model.audit_document()["os"]
    return _json(model, {k: os_[k] for k in ("CurrentBuild", "UBR", "DisplayVersion", "ProductName", "EditionID",
                                             "InstallationType")})


def _caption(model: MirroredWindowsModel) -> CommandOutcome:
    return _text(str(model.audit_document()["os"]["Caption"]) + CRLF)


def _ipv6(model: MirroredWindowsModel) -> CommandOutcome:
    value = model.state.ipv6_disabled_components
    return _json(model, None if value is None else {"DisabledComponents": value})


def _policy(model: MirroredWindowsModel) -> CommandOutcome:
    policy = model.state.wsl_policy
    if not policy:  # no HKLM\SOFTWARE\Policies\WSL key: -ErrorAction SilentlyContinue prints nothing
        return CommandOutcome()
    return _json(model, {k: policy.get(k) for k in ("DefaultNetworkingMode", "AllowNetworkingModeUserSetting",
                                                    "AllowFirewallUserSetting", "AllowWSL", "AllowInboxWSL")})


def _msi(model: MirroredWindowsModel) -> CommandOutcome:
    version = model.state.wsl_msi_version
    return _json(model, None if not version else {"Version": version})


def _wsl_version(model: MirroredWindowsModel) -> CommandOutcome:
    rc, data = model.wsl_version_bytes()  # UTF-16LE, as wsl.exe writes it
    return CommandOutcome(data, rc=rc & 0xFFFFFFFF)


def _profiles(model: MirroredWindowsModel) -> CommandOutcome:
    return _json(model, [{"SID": p["SID"], "LocalPath": p["LocalPath"], "Loaded": p["Loaded"]}
                         for p in model.audit_document()["profiles"]])


def _wslconfigs(model: MirroredWindowsModel) -> CommandOutcome:
    return _text("".join(_file_text(u.wslconfig) + CRLF for u in model.state.users
                         if u.wslconfig is not None and not u.wslconfig_error))


def _docker_settings(model: MirroredWindowsModel) -> CommandOutcome:
    return _text("".join(_file_text(u.docker_settings["settings-store.json"]) + CRLF for u in model.state.users
                         if "settings-store.json" in u.docker_settings))


def _dd_install(model: MirroredWindowsModel) -> CommandOutcome:
    return _json(model, model.audit_document()["dockerDesktop"]["UninstallHKLM"])


def _admin_settings(model: MirroredWindowsModel) -> CommandOutcome:
    encoded = model.audit_document()["dockerDesktop"]["AdminSettingsBase64"]
    return _text(_file_text(base64.b64decode(encoded)) + CRLF) if encoded else CommandOutcome()


def _docker(member: str) -> Callable[[MirroredWindowsModel], CommandOutcome]:
    def answer(model: MirroredWindowsModel) -> CommandOutcome:
        docker = model.docker_cli()
        if model.state.docker is None:
            return CommandOutcome(stderr=("& : The term 'C:\\Program Files\\Docker\\Docker\\resources\\bin\\docker.exe' "
                                          "does not exist." + CRLF).encode(), rc=1)
        out = docker[member] or ""
        if docker["Reachable"]:
            return _text(out)
        return CommandOutcome((out if member == "Version" else "").encode(), (str(docker["Error"]) + CRLF).encode(), rc=1)
    return answer


def _tcp(model: MirroredWindowsModel) -> CommandOutcome:
    return _json(model, [{k: r[k] for k in ("LocalAddress", "LocalPort", "OwningProcess")} for r in model.tcp_listen()])


def _processes(model: MirroredWindowsModel) -> CommandOutcome:
    rows = [{"Id": pid, "ProcessName": name, "UserName": user} for name, pid, user in _BASE_PROCESSES]
    rows += [{"Id": p["Id"], "ProcessName": p["Name"], "UserName": p["UserName"]} for p in model.processes()]
    return _json(model, rows)


ONE_LINERS: tuple[OneLiner, ...] = (
    OneLiner("os version", "Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion' | Select-Object "
             "CurrentBuild,UBR,DisplayVersion,ProductName,EditionID,InstallationType | ConvertTo-Json -Compress", _os,
             '"CurrentBuild"'),
    OneLiner("os caption", "(Get-CimInstance Win32_OperatingSystem).Caption", _caption, "Microsoft Windows"),
    OneLiner("ipv6 components", "Get-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters' "
             "-Name DisabledComponents -ErrorAction SilentlyContinue | Select-Object DisabledComponents | "
             "ConvertTo-Json -Compress", _ipv6),
    OneLiner("wsl policy", "Get-ItemProperty 'HKLM:\\SOFTWARE\\Policies\\WSL' -ErrorAction SilentlyContinue | "
             "Select-Object DefaultNetworkingMode,AllowNetworkingModeUserSetting,AllowFirewallUserSetting,AllowWSL,"
             "AllowInboxWSL | ConvertTo-Json -Compress", _policy),
    OneLiner("wsl msi", "Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss\\MSI' -Name Version "
             "-ErrorAction SilentlyContinue | Select-Object Version | ConvertTo-Json -Compress", _msi),
    OneLiner("wsl version", "wsl.exe --version", _wsl_version),
    OneLiner("user profiles", "Get-CimInstance Win32_UserProfile | Where-Object { -not $_.Special } | "
             "Select-Object SID,LocalPath,Loaded | ConvertTo-Json -Compress", _profiles, '"SID"'),
    OneLiner("wslconfig files", "Get-ChildItem C:\\Users -Directory | ForEach-Object { Get-Content (Join-Path "
             "$_.FullName '.wslconfig') -Raw -ErrorAction SilentlyContinue }", _wslconfigs),
    OneLiner("docker settings", "Get-ChildItem C:\\Users -Directory | ForEach-Object { Get-Content (Join-Path "
             "$_.FullName 'AppData\\Roaming\\Docker\\settings-store.json') -Raw -ErrorAction SilentlyContinue }",
             _docker_settings),
    OneLiner("docker desktop install", "Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\"
             "Uninstall\\Docker Desktop' -ErrorAction SilentlyContinue | Select-Object DisplayVersion,InstallLocation | "
             "ConvertTo-Json -Compress", _dd_install),
    OneLiner("docker admin settings", "Get-Content 'C:\\ProgramData\\DockerDesktop\\admin-settings.json' -Raw "
             "-ErrorAction SilentlyContinue", _admin_settings),
    OneLiner("docker version", _DOCKER_ENV + _DOCKER_EXE + " version --format '{{json .}}'", _docker("Version")),
    OneLiner("docker info", _DOCKER_ENV + _DOCKER_EXE + " info --format '{{json .}}'", _docker("Info")),
    OneLiner("docker ps", _DOCKER_ENV + _DOCKER_EXE + " ps --no-trunc --format '{{json .}}'", _docker("Ps")),
    OneLiner("tcp listeners", "Get-NetTCPConnection -State Listen | Select-Object LocalAddress,LocalPort,OwningProcess | "
             "ConvertTo-Json -Compress", _tcp, '"LocalPort"'),
    OneLiner("processes", "Get-Process -IncludeUserName | Select-Object Id,ProcessName,UserName | ConvertTo-Json "
             "-Compress", _processes, '"ProcessName"'),
)

_BY_TEXT = {" ".join(o.command.split()): o for o in ONE_LINERS}


def one_liner(script: str) -> OneLiner | None:
    """The one-liner ``script`` is (whitespace-insensitive), else None."""
    return _BY_TEXT.get(" ".join(script.split()))
