"""The mutable state of a simulated Windows developer machine.

Everything a collector can observe lives in plain attributes, so remediation code (and tests) can
change a host and see the next audit answer differently:

* ``WindowsState.build`` / ``ubr`` / ``ipv6_disabled_components``: registry (CurrentVersion, Tcpip6).
* ``WindowsState.wsl_msi_version`` (None = inbox WSL only) and ``wsl_policy`` (HKLM\\SOFTWARE\\Policies\\WSL,
  value name -> DWORD; a missing name is an absent value).
* ``WindowsState.users``: one ``UserProfile`` per developer; ``wslconfig`` is the file's raw BYTES
  (None = no file), ``wslconfig_mtime`` its LastWriteTime; ``vm_started`` / ``vm_mode`` describe the
  user's running WSL VM (``vm_mode`` is the networking mode it started with, fixed until it restarts).
* ``WindowsState.docker``: Docker Desktop (None = not installed) with ``owner`` (user running it, None =
  not running), ``backend`` (wsl2 | hyperv), ``pipe`` (ok | denied), ``containers``.
* ``WindowsState.listeners``: other Windows listeners (e.g. svchost on 53); Docker Desktop's own
  listeners are derived from the rule in ``MirroredWindowsModel.docker_listeners``.
* ``WindowsState.events``: extra Application-log WSL warnings (WSL's own warnings are derived when a
  VM starts, see ``MirroredWindowsModel.start_vm``).

Methods that change state the way Windows would (``start_vm``, ``shutdown_vm``, ``write_wslconfig``)
live on the model, because they need the simulated WSL's rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

#: A fixed "now" keeps every answer (and the committed example inventory) deterministic.
LAB_EPOCH = datetime(2026, 9, 18, 7, 45, 0, tzinfo=timezone.utc)


def ts(value: datetime | None) -> str | None:
    """PowerShell's ``ToString('o')`` of a UTC time: 7 fractional digits and ``Z``."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


@dataclass
class Container:
    """A Docker Desktop container. ``ports``: (host_ip, host_port, container_port, proto)."""

    name: str
    image: str = "nginx:alpine"
    ports: list[tuple[str, int, int, str]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    network_mode: str = "bridge"
    running: bool = True
    id: str = ""
    created: datetime = LAB_EPOCH - timedelta(hours=3)


@dataclass
class Listener:
    """A Windows TCP listener other than Docker Desktop's (svchost on 53, System on 80, ...)."""

    port: int
    process: str
    address: str = "0.0.0.0"
    pid: int = 0
    udp: bool = False


@dataclass
class DockerDesktop:
    version: str = "4.45.0"
    build: int = 203075
    owner: str | None = None           # user name running Docker Desktop; None = not running
    backend: str = "wsl2"              # wsl2 | hyperv
    pipe: str = "ok"                   # ok | denied (Access is denied for the WinRM account)
    per_user_install: bool = False     # HKCU uninstall key of the owner instead of HKLM
    install_location: str = "C:\\Program Files\\Docker\\Docker"
    admin_settings: bytes | None = None  # C:\ProgramData\DockerDesktop\admin-settings.json
    engine_version: str = "28.3.2"
    kernel: str = "6.6.87.2-microsoft-standard-WSL2"
    containers: list[Container] = field(default_factory=list)
    probe_image_present: bool = True   # nginx:alpine already pulled (the probe never pulls)
    unforwarded_ports: list[int] = field(default_factory=list)  # com.docker.backend cannot listen (excluded port range)
    started: datetime = LAB_EPOCH - timedelta(hours=4)


@dataclass
class UserProfile:
    name: str                                   # dev1
    domain: str = "CORP"
    rid: int = 1001
    loaded: bool = True                         # hive loaded (user logged on)
    logged_on: bool = True                      # interactive session (explorer.exe)
    wslconfig: bytes | None = None              # raw file bytes, any encoding
    wslconfig_mtime: datetime = LAB_EPOCH - timedelta(days=3)
    wslconfig_error: str | None = None          # e.g. access denied while reading
    variants: list[str] = field(default_factory=list)   # other .wslconfig* files, e.g. .wslconfig.txt
    docker_settings: dict[str, bytes] = field(default_factory=dict)  # settings-store.json / settings.json
    docker_settings_mtime: datetime = LAB_EPOCH - timedelta(days=10)
    distros: list[str] = field(default_factory=list)    # WSL distributions registered in HKCU\...\Lxss
    vm_started: datetime | None = None          # the user's WSL VM (vmmemWSL) start; None = not running
    vm_mode: str | None = None                  # networking mode the running VM started with
    vm_ignored_ports: list[int] = field(default_factory=list)   # experimental.ignoredPorts the VM started with
    wsl_event_log: list[tuple[datetime, str]] = field(default_factory=list)
    previous_wslconfig: bytes | None = None     # the file before its last change (what an earlier VM start read)
    previous_mtime: datetime = LAB_EPOCH - timedelta(days=30)
    wslconfig_backup: tuple[str, bytes, datetime] | None = None  # auditor's wslconfig-<stamp>.bak: name, bytes, mtime
    processes: list[str] = field(default_factory=list)          # other processes of this user (gvproxy, ...)
    distro_engine: str | None = None            # Docker Engine version inside the default distro (None: no engine)

    def config_at(self, when: datetime) -> bytes | None:
        """The .wslconfig bytes in force at ``when``: the previous content when the file changed after it."""
        if self.previous_wslconfig is not None and self.wslconfig_mtime > when:
            return self.previous_wslconfig
        return None if self.wslconfig_error else self.wslconfig

    @property
    def account(self) -> str:
        return f"{self.domain}\\{self.name}"

    @property
    def path(self) -> str:
        return f"C:\\Users\\{self.name}"


@dataclass
class WindowsState:
    hostname: str = "WIN-DEV-0001"
    build: int = 22631
    ubr: int = 4460
    edition: str = "Professional"
    installation_type: str = "Client"
    ipv6_disabled_components: int | None = None
    wsl_msi_version: str | None = "2.6.1.0"
    wsl_kernel: str = "6.6.87.2-1"
    wsl_policy: dict[str, int] = field(default_factory=dict)
    users: list[UserProfile] = field(default_factory=list)
    docker: DockerDesktop | None = None
    listeners: list[Listener] = field(default_factory=list)
    events: list[tuple[datetime, str]] = field(default_factory=list)
    primary_ipv4: str = "192.168.0.200"
    machine_sid: str = "S-1-5-21-3623811015-3361044348-30300820"
    boot: datetime = LAB_EPOCH - timedelta(hours=5)
    #: PowerShell 5.1 quirk on: one-element arrays go out as bare objects where a real pipeline would.
    ps51_unwrap: bool = True

    def user(self, name: str | None) -> UserProfile | None:
        for u in self.users:
            if name is not None and u.name.lower() == name.lower():
                return u
        return None
