"""The `.wslconfig` key table and WSL's user-facing message templates.

Transcribed from microsoft/WSL at 3e27a6a (2026-08): key names from ``src/windows/common/WslCoreConfig.h``
(``ConfigSetting``), the key list and types from ``WslCoreConfig.cpp`` (``Config::ParseConfigFile``),
defaults from the ``Config`` members, messages from ``localization/strings/en-US/Resources.resw``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Value kinds, one per ``ConfigKey::ParseImpl`` overload (plus the two lambdas WSL registers).
BOOL, INT, STRING, PATH, MEMORY, MAC, NETMODE, RECLAIM, PORTS, IPV4 = (
    "bool", "int", "string", "path", "memory", "mac", "networkingMode", "memoryReclaim", "ports", "ipv4",
)


@dataclass(frozen=True)
class KeySpec:
    canonical: str            # first name WSL registers, e.g. "wsl2.networkingMode"
    names: tuple[str, ...]    # every accepted "section.key" spelling (aliases share one ConfigKey)
    kind: str
    default: Any              # WSL's default; None when it depends on the machine (documented in note)
    note: str = ""


def _k(names: str | tuple[str, ...], kind: str, default: Any = None, note: str = "") -> KeySpec:
    tup = (names,) if isinstance(names, str) else names
    return KeySpec(tup[0], tup, kind, default, note)


KEYS: tuple[KeySpec, ...] = (
    _k("wsl2.kernel", PATH, ""),
    _k("wsl2.kernelCommandLine", STRING, ""),
    _k("wsl2.kernelModules", PATH, ""),
    _k("wsl2.memory", MEMORY, None, "50% of host memory"),
    _k("wsl2.processors", INT, None, "all logical processors"),
    _k("wsl2.debugConsole", BOOL, False),
    _k("wsl2.earlyBootLogging", BOOL, False),
    _k("wsl2.swap", MEMORY, None, "25% of memory, rounded up to 1 GB"),
    _k("wsl2.swapFile", PATH, ""),
    _k("wsl2.localhostForwarding", BOOL, True),
    _k("wsl2.nestedVirtualization", BOOL, None, "true on Windows 11 x64"),
    _k("wsl2.virtio9p", BOOL, False),
    _k("wsl2.virtiofs", BOOL, False),
    _k("wsl2.kernelDebugPort", INT, 0),
    _k("wsl2.gpuSupport", BOOL, True),
    _k("wsl2.guiApplications", BOOL, True),
    _k("wsl2.systemDistro", PATH, ""),
    _k("wsl2.telemetry", BOOL, True),
    _k("wsl2.vmIdleTimeout", INT, 60000),
    _k("wsl2.debugConsoleLogFile", PATH, ""),
    _k("wsl2.kernelBootTimeout", INT, 30000),
    _k("wsl2.distributionStartTimeout", INT, 60000),
    _k("wsl2.virtio", BOOL, None, "true except on ARM64 Windows 10"),
    _k("wsl2.hostFileSystemAccess", BOOL, True),
    _k("wsl2.mountDeviceTimeout", INT, 5000),
    _k("wsl2.hardwarePerformanceCounters", BOOL, None, "true except on ARM64"),
    _k("wsl2.vmSwitch", STRING, ""),
    _k("wsl2.macAddress", MAC, ""),
    _k("wsl2.dhcp", BOOL, True),
    _k("wsl2.dhcpTimeout", INT, 5000),
    _k("wsl2.ipv6", BOOL, False),
    _k("wsl2.dnsProxy", BOOL, True),
    _k("wsl2.safeMode", BOOL, False),
    _k("wsl2.defaultVhdSize", MEMORY, 0x10000000000),
    _k("wsl2.crashDumpFolder", PATH, ""),
    _k("wsl2.maxCrashDumpCount", INT, 10),
    _k("general.distributionInstallPath", PATH, ""),
    _k("general.instanceIdleTimeout", INT, 15000),
    _k("wsl2.loadDefaultKernelModules", BOOL, True),
    _k("wsl2.loadKernelModules", STRING, ""),
    _k("wsl2.isolateDistroCgroup", BOOL, True),
    # Features that were previously experimental: both headers name the same key (first occurrence wins).
    _k(("wsl2.networkingMode", "experimental.networkingMode"), NETMODE, "nat"),
    _k(("wsl2.dnsTunneling", "experimental.dnsTunneling"), BOOL, True),
    _k(("wsl2.firewall", "experimental.firewall"), BOOL, True),
    _k(("wsl2.autoProxy", "experimental.autoProxy"), BOOL, True),
    # Experimental-only keys: under [wsl2] they are "Unknown key".
    _k("experimental.autoMemoryReclaim", RECLAIM, "dropcache"),
    _k("experimental.sparseVhd", BOOL, False),
    _k("experimental.bestEffortDnsParsing", BOOL, False),
    _k("experimental.dnsTunnelingIpAddress", IPV4, "10.255.255.254"),
    _k("experimental.initialAutoProxyTimeout", INT, 1000),
    _k("experimental.ignoredPorts", PORTS, []),
    _k("experimental.hostAddressLoopback", BOOL, False),
    _k("experimental.setVersionDebug", BOOL, False),
    _k("experimental.swiotlb", MEMORY, 0),
    _k("experimental.virtioFsAggregateShares", BOOL, True),
)

#: lower-cased "section.key" -> spec (WSL matches with strcasecmp)
KEY_BY_NAME: dict[str, KeySpec] = {n.lower(): spec for spec in KEYS for n in spec.names}
KEY_BY_CANONICAL: dict[str, KeySpec] = {spec.canonical: spec for spec in KEYS}

# Enum maps: lower-cased spelling -> canonical value. WSL keeps them in a std::map with a
# case-insensitive compare, so "Valid values" in its warning lists them in case-insensitive order.
NETWORKING_MODES: dict[str, str] = {
    "none": "none", "nat": "nat", "bridged": "bridged", "mirrored": "mirrored",
    "consomme": "consomme", "virtioproxy": "consomme",  # VirtioProxy: legacy alias since 2.9.0
}
NETWORKING_MODES_VALID = "Bridged, Consomme, Mirrored, Nat, None, VirtioProxy"
# Before 2.9.0 (commit b9e1d7044) the mode was named VirtioProxy and "Consomme" did not exist.
NETWORKING_MODES_VALID_PRE_2_9 = "Bridged, Mirrored, Nat, None, VirtioProxy"
MEMORY_RECLAIM_MODES: dict[str, str] = {"disabled": "disabled", "dropcache": "dropcache", "gradual": "gradual"}
MEMORY_RECLAIM_VALID = "Disabled, DropCache, Gradual"

# Resources.resw, verbatim; "{}" placeholders filled in the order WSL passes them.
MSG = {
    "invalid-section": "Invalid section name in {}:{}",
    "invalid-key-name": "Invalid key name in {}:{}",
    "expected": "Expected {} in {}:{}",
    "invalid-escape": "Invalid escaped character: '{}' in {}:{}",
    "unknown-key": "Unknown key '{}' in {}:{}",
    "invalid-integer": "Invalid integer value '{}' for key '{}' in {}:{}",
    "invalid-ip": "Invalid IP value '{}' for key '{}' in {}:{}",
    "invalid-boolean": "Invalid boolean value '{}' for key '{}' in {}:{}",
    "invalid-mac": "Invalid mac address '{}' for key '{}' in {}:{}",
    "invalid-memory": "Invalid memory string '{}' for .wslconfig entry '{}' in {}:{}",
    "duplicate-key": "Duplicated config key '{}' in {}:{} (Conflicting key: '{}' in {}:{})",
    "invalid-enum": "Invalid value '{}' for config key '{}' in {}:{} (Valid values: {})",
    "open-failed": "Failed to open config file {}, {}",
    "policy-override": "The .wslconfig setting '{}' is disabled by the computer policy.",
    "mirrored-unsupported": "Mirrored networking mode is not supported: {}.\nFalling back to NAT networking.",
    "mirrored-reason-kernel": "Linux Kernel version 5.10 or newer is required",
    "mirrored-reason-windows": "Windows version {}.{} does not have the required features",
    "mirrored-reason-ipv6": "IPv6 is disabled on the host in an unsupported way "
    "(HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters DisabledComponents=0xff)",
    "hyperv-firewall-unsupported": "Hyper-V firewall is not supported",
    "dns-tunneling-unsupported": "DNS Tunneling is not supported",
    "dns-tunneling-gsa": "Due to a current compatibility issue with Global Secure Access Client, DNS Tunneling is disabled.",
    "localhost-forwarding-mirrored": "The wsl2.localhostForwarding setting has no effect when using mirrored networking mode",
    "safe-mode": "SAFE MODE ENABLED - many features will be disabled",
    "consomme-requires-virtio": "Consomme networking is not supported when wsl2.virtio is disabled; "
    "falling back to networkingMode {}.",
}

#: WSL's display names for modes (``ToString(NetworkingMode)``), used inside its messages.
MODE_DISPLAY = {"none": "None", "nat": "Nat", "bridged": "Bridged", "mirrored": "Mirrored", "consomme": "Consomme"}
