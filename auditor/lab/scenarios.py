"""Scenario files: one simulated host per YAML file, with the verdict it must get (docs/lab.md).

    platform: windows                      # windows | edge
    description: Mirrored + Docker Desktop with a published port: no Windows listener
    expect: {verdict: CONFLICT_CONFIRMED, confidence: medium}
    windows:
      users:
        - name: dev1
          wslconfig: "[wsl2]\\nnetworkingMode=mirrored\\n"
      docker_desktop: {owner: dev1, containers: [{name: web, ports: ["8080:80"]}]}

``load_scenario(path)`` raises ``BadInputError`` with file:line:column on any mistake.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auditor.errors import BadInputError
from auditor.playbook.yamlpos import read_positioned_file, validation_error

LIBRARY = Path(__file__).resolve().parent / "scenarios"
MAX_SCENARIO_BYTES = 1024 * 1024
WINDOWS_VERDICTS = ("CONFLICT_CONFIRMED", "AT_RISK_MIRRORED_DOCKER", "AT_RISK_MIRRORED_ENGINE", "AT_RISK_LATENT",
                    "PUBLISH_BROKEN_OTHER_CAUSE", "HEALTHY_NAT", "MIRRORED_WITHOUT_DOCKER", "NO_WSL_OR_NO_DOCKER",
                    "INCONCLUSIVE")
EDGE_VERDICTS = ("EDGE_NO_LAN_VISIBILITY", "EDGE_NOT_HOST_NETWORK", "EDGE_WSL_NAT", "EDGE_OK", "INCONCLUSIVE")
_PORT = re.compile(r"^(?:(?P<ip>[0-9.]+|\[[0-9a-fA-F:]+\]):)?(?P<host>\d{1,5}):(?P<cport>\d{1,5})(?:/(?P<proto>tcp|udp))?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expect(_Strict):
    verdict: Optional[str] = None
    confidence: Optional[Literal["high", "medium", "low"]] = None
    status: Optional[Literal["ok", "failed", "unreachable", "auth_failed", "timed_out", "error"]] = None


class FaultSpec(_Strict):
    """Transport faults (both servers): see docs/lab.md for what each looks like to the auditor."""

    wrong_password: bool = False
    refused: bool = False
    slow: float = Field(0.0, ge=0, le=600)
    hang: bool = False
    reset: bool = False


class WslSpec(_Strict):
    version: Optional[str] = "2.6.1.0"     # MSI package version; null = inbox WSL only
    policy: dict[Literal["DefaultNetworkingMode", "AllowNetworkingModeUserSetting", "AllowFirewallUserSetting",
                         "AllowWSL", "AllowInboxWSL"], int] = {}


class VmSpec(_Strict):
    running: bool = True
    mode: Optional[Literal["nat", "mirrored", "none", "consomme", "virtioproxy"]] = None  # default: from the config
    started_minutes_ago: int = Field(60, ge=0)


class DockerSettingsSpec(_Strict):
    file: Literal["settings-store.json", "settings.json"] = "settings-store.json"
    values: dict[str, Any] = {}


class UserSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9._-]{0,19}$")
    domain: str = "CORP"
    wslconfig: Optional[str] = None
    encoding: Literal["utf-8", "utf-8-bom", "utf-16le-bom", "utf-16le", "utf-16be-bom"] = "utf-8"
    newline: Literal["crlf", "lf"] = "crlf"
    wslconfig_error: Optional[str] = None
    wslconfig_modified_minutes_ago: int = Field(3 * 24 * 60, ge=0)
    variants: list[str] = []
    docker_settings: Optional[DockerSettingsSpec] = None
    distros: Optional[list[str]] = None
    loaded: bool = True
    logged_on: bool = True
    vm: Optional[VmSpec] = None
    # the file before its last change (wslconfig_modified_minutes_ago): a VM started before that change read it
    previous_wslconfig: Optional[str] = None
    previous_modified_minutes_ago: int = Field(30 * 24 * 60, ge=0)
    previous_backup: bool = False          # `auditor remediate` left wslconfig-<stamp>.bak with the previous content
    processes: list[str] = []              # other processes of this user, e.g. gvproxy (Podman Desktop)
    distro_engine: Optional[str] = None    # Docker Engine version inside the user's default WSL distro


class ContainerSpec(_Strict):
    name: str
    image: str = "nginx:alpine"
    ports: list[str] = []
    labels: dict[str, str] = {}
    network_mode: str = "bridge"

    @field_validator("ports")
    @classmethod
    def _ports(cls, v: list[str]) -> list[str]:
        for p in v:
            if not _PORT.match(p):
                raise ValueError(f"{p!r} is not a port mapping like 8080:80, 127.0.0.1:8080:80 or 53:53/udp")
        return v


class DockerDesktopSpec(_Strict):
    version: str = "4.45.0"
    owner: Optional[str] = None
    backend: Literal["wsl2", "hyperv"] = "wsl2"
    pipe: Literal["ok", "denied"] = "ok"
    per_user_install: bool = False
    admin_settings: Optional[dict[str, Any]] = None
    probe_image_present: bool = True
    containers: list[ContainerSpec] = []
    unforwarded_ports: list[int] = []      # com.docker.backend cannot listen there (e.g. a Windows excluded port range)


class ListenerSpec(_Strict):
    port: int = Field(ge=1, le=65535)
    process: str
    address: str = "0.0.0.0"
    udp: bool = False


class WindowsSpec(_Strict):
    build: int = Field(22631, ge=10240, le=99999)
    ubr: int = Field(4460, ge=0)
    edition: Literal["Professional", "Enterprise"] = "Professional"
    installation_type: Literal["Client", "Server"] = "Client"
    ipv6_disabled_components: Optional[int] = Field(None, ge=0, le=0xFFFFFFFF)
    wsl: WslSpec = WslSpec()
    users: list[UserSpec] = []
    docker_desktop: Optional[DockerDesktopSpec] = None
    listeners: list[ListenerSpec] = []
    events: list[str] = []
    primary_ipv4: str = "192.168.0.200"
    ps51_unwrap: bool = True

    @model_validator(mode="after")
    def _owner_exists(self) -> "WindowsSpec":
        dd = self.docker_desktop
        if dd is not None and dd.owner is not None and dd.owner.lower() not in {u.name.lower() for u in self.users}:
            raise ValueError(f"docker_desktop.owner {dd.owner!r} is not one of the users")
        return self


class LanSpec(_Strict):
    ifname: str = "enp3s0"
    address: str = Field("192.168.10.41/24", pattern=r"^\d+\.\d+\.\d+\.\d+/\d+$")
    gateway: str = "192.168.10.1"


class EdgeContainerSpec(_Strict):
    name: str
    image: str = "ghcr.io/example/edge-node:1.8"
    network_mode: str = "host"
    labels: dict[str, str] = {}
    ip_tool: Literal["iproute2", "busybox", "none"] = "iproute2"


class EdgeSpec(_Strict):
    os: Literal["ubuntu-24.04", "debian-12", "fedora-40"] = "ubuntu-24.04"
    kernel: str = "6.8.0-45-generic"
    engine: Literal["docker-ce", "docker-desktop", "none", "stopped"] = "docker-ce"
    engine_version: str = "27.3.1"
    desktop_version: str = "4.45.0"
    wsl: Optional[Literal["nat", "mirrored"]] = None
    lan: LanSpec = LanSpec()
    containers: list[EdgeContainerSpec] = []
    rootless: bool = False                 # rootless Docker Engine (host mode = RootlessKit's namespace)
    dd_subnet: str = Field("192.168.65.0/24", pattern=r"^\d+\.\d+\.\d+\.\d+/\d+$")   # Docker Desktop's VpnkitCIDR


class Scenario(_Strict):
    name: str = ""                      # default: the file name without .yml
    description: str = ""
    platform: Literal["windows", "edge"]
    weight: float = Field(1.0, ge=0)    # how often the generator picks it
    expect: Expect
    enable: list[Literal["probe", "user-context"]] = []
    faults: FaultSpec = FaultSpec()
    windows: Optional[WindowsSpec] = None
    edge: Optional[EdgeSpec] = None
    path: str = ""                      # set by the loader

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        if self.platform == "windows" and self.edge is not None:
            raise ValueError("a windows scenario cannot have an 'edge' section")
        if self.platform == "edge" and self.windows is not None:
            raise ValueError("an edge scenario cannot have a 'windows' section")
        verdicts = WINDOWS_VERDICTS if self.platform == "windows" else EDGE_VERDICTS
        if self.expect.verdict is not None and self.expect.verdict not in verdicts:
            raise ValueError(f"expect.verdict {self.expect.verdict!r} is not a {self.platform} verdict "
                             f"(expected one of {', '.join(verdicts)})")
        if self.expect.verdict is None and self.expect.status is None:
            raise ValueError("expect needs a verdict or a status")
        if self.windows is None and self.platform == "windows":
            self.windows = WindowsSpec()
        if self.edge is None and self.platform == "edge":
            self.edge = EdgeSpec()
        return self

    @property
    def reachable(self) -> bool:
        f = self.faults
        return not (f.wrong_password or f.refused or f.hang or f.reset)


def parse_port(text: str) -> tuple[str, int, int, str]:
    m = _PORT.match(text)
    assert m is not None  # validated by ContainerSpec
    ip = (m.group("ip") or "0.0.0.0").strip("[]")
    return ip, int(m.group("host")), int(m.group("cport")), m.group("proto") or "tcp"


def load_scenario(path: str | Path) -> Scenario:
    """Load one scenario file; BadInputError (file:line:col) on any problem."""
    doc = read_positioned_file(path, "scenario", MAX_SCENARIO_BYTES)
    if not isinstance(doc.data, dict):
        raise BadInputError("expected a mapping with 'platform' and 'expect' (one host per file)", doc.location(()))
    try:
        scenario = Scenario.model_validate(doc.data)
    except ValidationError as exc:
        raise validation_error(exc, doc) from None
    name = str(path)
    scenario.path = name
    scenario.name = scenario.name or Path(name).name.removesuffix(".yml").removesuffix(".yaml")
    return scenario


def library_paths() -> list[Path]:
    return sorted(LIBRARY.glob("*.yml"))


def load_library() -> list[Scenario]:
    """Every scenario shipped in auditor/lab/scenarios/, sorted by file name."""
    return [load_scenario(p) for p in library_paths()]
