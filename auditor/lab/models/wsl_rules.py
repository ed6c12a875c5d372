"""The simulated WSL's own rules: what a WSL VM starts with, written apart from the auditor's predictor.

The auditor predicts the mode (``auditor.mirrored.wslconfig_effective``); the lab host DECIDES it. Both follow
WSL's source (docs/research/domain.md 1.2, 2.1; anchors-2.md 6.1), but this module shares no code with the auditor's parser or
predictor, so a scenario cannot get its verdict because the lab and the rules make the same mistake.

What it covers: reading ``networkingMode`` and ``ignoredPorts`` the way WSL reads `.wslconfig` (encodings, sections,
``#`` comments, ``;`` lines, first occurrence wins, case-insensitive values, which section each WSL version knows),
then the machine: WSL disabled by policy, the inbox WSL, policy default and override, Windows Server / build / UBR,
and IPv6 ``DisabledComponents == 0xFF`` (exactly).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MODES = {"none": "none", "nat": "nat", "bridged": "bridged", "mirrored": "mirrored", "virtioproxy": "consomme",
         "consomme": "consomme"}
POLICY_MODES = {0: "none", 1: "nat", 3: "mirrored", 4: "consomme"}
_KEY_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9]*)[ \t]*=(.*)$")
_SECTION = re.compile(r"^\[([A-Za-z][A-Za-z0-9]*)\][ \t]*(#.*)?$")

FALLBACK_BUILD = ("Mirrored networking mode is not supported: Windows version {}.{} does not have the required features.\n"
                  "Falling back to NAT networking.")
FALLBACK_IPV6 = ("Mirrored networking mode is not supported: IPv6 is disabled on the host in an unsupported way "
                 "(HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters DisabledComponents=0xff).\n"
                 "Falling back to NAT networking.")
POLICY_OVERRIDE = "The .wslconfig setting 'wsl2.networkingMode' is disabled by the computer policy."


def _text(data: bytes) -> str | None:
    """The characters WSL's CRT sees (``rt,ccs=UTF-8``); None when it reads garbage (UTF-16 without BOM, UTF-16BE)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le", "replace")
    if data.startswith(b"\xfe\xff") or b"\x00" in data:
        return None
    return data.decode("utf-8", "replace")


def _value(raw: str) -> str:
    out, quoted = [], False
    for ch in raw:
        if ch == '"':
            quoted = not quoted
            continue
        if ch == "#" and not quoted:
            break
        out.append(ch)
    return "".join(out).strip()


@dataclass
class FileSettings:
    """What WSL takes from one `.wslconfig`: (section, value) of the first networkingMode it knows, ignoredPorts."""

    mode_entries: list[tuple[str, str]] = field(default_factory=list)   # every networkingMode, in file order
    ignored_ports: list[int] = field(default_factory=list)


def read_file(data: bytes | None) -> FileSettings:
    out = FileSettings()
    text = _text(data) if data is not None else None
    if text is None:
        return out
    section = ""
    ports_seen = False
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.strip(" \t")
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            m = _SECTION.match(line)
            if m:
                section = m.group(1).lower()
            continue
        m = _KEY_LINE.match(line)
        if not m:
            continue   # ';' lines and other non-letters: WSL skips them
        key, value = m.group(1).lower(), _value(m.group(2))
        if key == "networkingmode" and section in ("wsl2", "experimental"):
            out.mode_entries.append((section, value))
        elif key == "ignoredports" and section == "experimental" and not ports_seen:
            ports_seen = True
            for part in value.split(","):
                part = part.strip()
                if part.isdigit() and 1 <= int(part) <= 65535:
                    out.ignored_ports.append(int(part))
    return out


def _version(text: str | None) -> tuple[int, int, int] | None:
    m = re.match(r"^(\d+)\.(\d+)\.(\d+)", text or "")
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def file_mode(fs: FileSettings, wsl_version: str | None) -> str | None:
    """networkingMode this WSL takes from the file (None: absent, unknown key or invalid value -> the default)."""
    v = _version(wsl_version)
    if wsl_version is None or (v is not None and v < (2, 0, 0)):
        return None                                 # inbox WSL / before 2.0.0: no such key
    sections = ("experimental",) if v is not None and v < (2, 0, 5) else ("wsl2", "experimental")
    first = next((value for sec, value in fs.mode_entries if sec in sections), None)
    if first is None:
        return None
    mode = MODES.get(first.lower())
    if mode == "consomme" and first.lower() == "consomme" and v is not None and v < (2, 9, 0):
        return None                                 # the name exists from 2.9.0
    return mode


@dataclass
class Machine:
    build: int
    ubr: int
    installation_type: str
    ipv6_disabled_components: int | None
    wsl_version: str | None                 # Store/MSI package; None = inbox WSL only
    policy: dict[str, int]


def vm_blocked(m: Machine) -> str | None:
    if m.policy.get("AllowWSL") == 0:
        return "AllowWSL=0"
    if m.wsl_version is None and m.policy.get("AllowInboxWSL") == 0:
        return "AllowInboxWSL=0"
    return None


def _has_mirrored(m: Machine) -> bool:
    if m.installation_type != "Client":
        return False
    if m.build in (22621, 22631):
        return m.ubr >= 2359                        # the Sept 2023 update (22621.2359 preview, 2428 GA)
    return m.build > 22631


def start_mode(data: bytes | None, m: Machine) -> tuple[str | None, list[int], list[str]]:
    """(mode the VM starts in or None when WSL cannot start one, ignoredPorts in force, warnings WSL logs)."""
    if vm_blocked(m):
        return None, [], []
    fs = read_file(data)
    mode = file_mode(fs, m.wsl_version)
    warnings: list[str] = []
    store = m.wsl_version is not None
    default = POLICY_MODES.get(m.policy.get("DefaultNetworkingMode", 1), "nat") if store else "nat"
    if store and mode is not None and m.policy.get("AllowNetworkingModeUserSetting") == 0 and mode != "none":
        if mode != default:
            warnings.append(POLICY_OVERRIDE)
        mode = default
    mode = mode or default
    if mode == "mirrored" and not _has_mirrored(m):
        warnings.append(FALLBACK_BUILD.format(m.build, m.ubr))
        mode = "nat"
    elif mode == "mirrored" and m.ipv6_disabled_components == 0xFF:
        warnings.append(FALLBACK_IPV6)
        mode = "nat"
    return mode, (fs.ignored_ports if mode == "mirrored" else []), warnings
