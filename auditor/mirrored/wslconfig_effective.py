"""What WSL does with the parsed `.wslconfig` before and when it starts the VM.

Order and rules follow microsoft/WSL 3e27a6a: ``Config::ParseConfigFile`` (firewall forced for mirrored),
``Config::Initialize`` (policy, Global Secure Access, safe mode, virtio, dependent options) and
``WslCoreVm::ValidateNetworkingMode`` (Hyper-V firewall support, IPv6 DisabledComponents, kernel, Windows
features). Which Windows builds have the features is inference from docs and issues (docs/wslconfig.md).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from auditor.mirrored.wslconfig_keys import MODE_DISPLAY, MSG, NETWORKING_MODES, NETWORKING_MODES_VALID_PRE_2_9
from auditor.mirrored.wslconfig_model import Adjustment, EffectiveSettings, KeySetting, WslConfig

# HKLM\Software\Policies\WSL DefaultNetworkingMode (src wslpolicies.h / WslCoreConfig.cpp); 2 (Bridged) rejected.
_POLICY_MODES = {0: "none", 1: "nat", 3: "mirrored", 4: "consomme"}
_CONFIG, _VM = "config", "vm-start"


def _version(text: str | None) -> tuple[int, ...] | None:
    m = re.match(r"\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text or "")
    return tuple(int(g or 0) for g in m.groups()) if m else None


def _dword(value: Any) -> int | None:
    """A registry DWORD as collectors deliver it: int, "255", "0xff"; anything else counts as absent."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value & 0xFFFFFFFF
    if isinstance(value, str):
        try:
            return int(value.strip(), 0) & 0xFFFFFFFF
        except ValueError:
            return None
    return None


def _policy(policy: dict[str, Any] | None, name: str) -> int | None:
    for k, v in (policy or {}).items():
        if isinstance(k, str) and k.lower() == name.lower():
            return _dword(v)
    return None


def _allowed(policy: dict[str, Any] | None, name: str) -> bool:
    """IsFeatureAllowed: absent -> allowed; 0 -> not allowed; other than 0/1 is an error -> allowed."""
    return _policy(policy, name) != 0


def wsl_blocked(policy: dict[str, Any] | None, inbox_only: bool) -> str | None:
    """Why no WSL VM can start at all (machine policy), or None. AllowWSL=0 disables WSL for every user;
    AllowInboxWSL=0 disables the inbox WSL (Store/MSI WSL keeps working). (anchors-2.md 6.1, WSL.admx)"""
    if not _allowed(policy, "AllowWSL"):
        return "policy AllowWSL=0 disables WSL for every user: no WSL VM can start"
    if inbox_only and not _allowed(policy, "AllowInboxWSL"):
        return "policy AllowInboxWSL=0 disables the inbox WSL, and no Store/MSI WSL package is installed: no WSL VM can start"
    return None


MirroredSupport = Literal["supported", "likely", "unsupported", "unknown"]


def mirrored_support(build: int | None, ubr: int | None, installation_type: str | None = None) -> MirroredSupport:
    """Does this Windows have what mirrored mode (and Hyper-V firewall v2) needs? (inference, docs/research/domain.md 2.1)

    supported: 22621/22631 with UBR >= 2428, or build > 22631; likely: 22621.2359..2427 (preview update);
    unsupported: Windows 10, Windows 11 21H2, Server, older 22H2 updates; unknown: build (or UBR) missing.
    """
    if build is None:
        return "unknown"
    if (installation_type or "").strip().lower() == "server":
        return "unsupported"
    if build < 22621:
        return "unsupported"
    if build <= 22631:
        if ubr is None:
            return "unknown"
        return "supported" if ubr >= 2428 else "likely" if ubr >= 2359 else "unsupported"
    return "supported"


def _unsupported_why(build: int | None, ubr: int | None, installation_type: str | None) -> str:
    if (installation_type or "").strip().lower() == "server":
        return f"Windows Server (build {build}) has no mirrored networking support (WSL falls back; microsoft/WSL#12569)"
    if build is not None and build < 22000:
        return f"Windows 10 (build {build}.{ubr}) never supports mirrored networking (Windows 11 22H2+ only)"
    return f"Windows {build}.{ubr} lacks HNS flow steering / Hyper-V firewall (mirrored needs 22621/22631 UBR >= 2428)"


def _kernel_older_than_5_10(kernel_version: str | None) -> bool:
    v = _version(kernel_version)
    return v is not None and v[:2] < (5, 10)


def _bool(cfg: WslConfig, key: str, default: bool) -> bool:
    s = cfg.settings.get(key)
    return bool(s.effective) if s is not None and s.effective is not None else default


def _present(cfg: WslConfig, key: str) -> bool:
    s = cfg.settings.get(key)
    return s is not None and s.valid


class _State:
    def __init__(self) -> None:
        self.adjustments: list[Adjustment] = []
        self.warnings: list[str] = []
        self.unknowns: list[str] = []

    def adjust(self, setting: str, before: Any, after: Any, reason: str, stage: str, msg: str | None = None) -> None:
        self.adjustments.append(Adjustment(setting, before, after, reason, stage, msg))
        if msg:
            self.warnings.append(msg)


def _configured_mode_for_version(
    nm: KeySetting | None, version: tuple[int, ...] | None, st: _State
) -> tuple[str | None, bool]:
    """The networkingMode the installed WSL version parses: (mode, present). Newer parser when unknown."""
    if nm is None:
        return None, False
    mode, present = (nm.value, True) if nm.valid else (None, False)
    if version is None:
        return mode, present
    if version < (2, 0, 0):
        st.adjust("wsl2.networkingMode", mode, None,
                  f"WSL {'.'.join(map(str, version))} predates networkingMode (added in 2.0.0): the key is unknown",
                  _CONFIG)
        return None, False
    if version < (2, 0, 5) and nm.section.lower() != "experimental":
        # Before 2.0.5 only [experimental] had the key: the first [experimental] occurrence applies instead.
        exp = next((o for o in nm.duplicates if o.section.lower() == "experimental"), None)
        new = NETWORKING_MODES.get(exp.raw.lower()) if exp else None
        st.adjust("wsl2.networkingMode", mode, new,
                  "WSL < 2.0.5 knows networkingMode only under [experimental]; [wsl2] networkingMode is unknown",
                  _CONFIG)
        return new, new is not None
    if version < (2, 9, 0) and mode == "consomme" and nm.raw.lower() == "consomme":
        st.adjust("wsl2.networkingMode", mode, None,
                  "'Consomme' exists from WSL 2.9.0; older WSL warns (Valid values: "
                  f"{NETWORKING_MODES_VALID_PRE_2_9}) and keeps the default", _CONFIG)
        return None, False
    return mode, present


def effective_settings(  # noqa: C901 - one rule after the other, in WSL's order
    cfg: WslConfig,
    *,
    policy: dict[str, Any] | None = None,
    windows_build: int | None = None,
    ubr: int | None = None,
    ipv6_disabled_components: int | str | None = None,
    wsl_version: str | None = None,
    installation_type: str | None = None,
    kernel_version: str | None = None,
    gsa_running: bool | None = None,
    inbox_only: bool = False,
) -> EffectiveSettings:
    """Predict the settings WSL runs with for this `.wslconfig` on this machine. Pure; never raises on
    odd fact values (they count as absent).

    ``inbox_only``: no Store/MSI WSL package, only Windows' inbox WSL (which predates networkingMode and
    ignores the Store-WSL policies)."""
    st = _State()
    version = _version(wsl_version)
    if version is None and not inbox_only:
        st.unknowns.append("WSL version unknown: assumed a current WSL (2.9+ parser)")
    nm = cfg.settings.get("wsl2.networkingMode")
    if inbox_only and nm is not None and nm.valid:
        st.adjust("wsl2.networkingMode", nm.value, None,
                  "inbox WSL (no Store/MSI WSL package) predates networkingMode (WSL 2.0.0): the key is unknown",
                  _CONFIG)
        parsed_mode, present = None, False
    else:
        parsed_mode, present = _configured_mode_for_version(nm, version, st)
    fatal = next((w for w in cfg.warnings if w.fatal), None)
    if fatal is not None:
        st.unknowns.append(f"WSL refuses to start the VM with this file: {fatal.message}")

    # Config::ParseConfigFile: Hyper-V firewall is always on for mirrored (mode as parsed, before policy).
    fw_setting = _bool(cfg, "wsl2.firewall", True)
    firewall = parsed_mode == "mirrored" or fw_setting
    if parsed_mode == "mirrored" and not fw_setting:
        st.adjust("wsl2.firewall", False, True,
                  "Hyper-V firewall must always be configured for mirrored mode; firewall=false is ignored", _CONFIG)
    dns = _bool(cfg, "wsl2.dnsTunneling", True)
    ip_key = cfg.settings.get("experimental.dnsTunnelingIpAddress")
    if ip_key is not None and not ip_key.valid and dns:
        st.adjust("wsl2.dnsTunneling", True, False, "invalid experimental.dnsTunnelingIpAddress disables DNS tunneling",
                  _CONFIG)
        dns = False
    auto_proxy = _bool(cfg, "wsl2.autoProxy", True)

    # Config::Initialize: policy default and override.
    default_mode = "nat"
    raw_default = None if inbox_only else _policy(policy, "DefaultNetworkingMode")  # ADMX: Store WSL only
    if raw_default is not None:
        if raw_default in _POLICY_MODES:
            default_mode = _POLICY_MODES[raw_default]
        else:
            st.unknowns.append(f"policy DefaultNetworkingMode={raw_default} is invalid; WSL ignores it (NAT)")
    mode = parsed_mode if present and parsed_mode else default_mode
    source = "file" if present else ("policy" if raw_default in _POLICY_MODES else "default")
    if present and not inbox_only and not _allowed(policy, "AllowNetworkingModeUserSetting") and mode not in ("none", default_mode):
        st.adjust("wsl2.networkingMode", mode, default_mode,
                  "policy AllowNetworkingModeUserSetting=0 replaces the user's networkingMode with the default "
                  f"({'DefaultNetworkingMode' if raw_default in _POLICY_MODES else 'NAT'})", _CONFIG,
                  MSG["policy-override"].format("wsl2.networkingMode"))
        mode, source = default_mode, "policy"
    if mode != "mirrored" and not firewall and not _allowed(policy, "AllowFirewallUserSetting"):
        st.adjust("wsl2.firewall", False, True, "policy AllowFirewallUserSetting=0 keeps the Hyper-V firewall on",
                  _CONFIG, MSG["policy-override"].format("wsl2.firewall"))
        firewall = True
    if dns and gsa_running:
        st.adjust("wsl2.dnsTunneling", True, False, "Global Secure Access tunneling service is running", _CONFIG,
                  MSG["dns-tunneling-gsa"] if _present(cfg, "wsl2.dnsTunneling") else None)
        dns = False
    if _bool(cfg, "wsl2.safeMode", False):
        st.warnings.append(MSG["safe-mode"])
        for name, before, after in (("wsl2.networkingMode", mode, "none"), ("wsl2.dnsTunneling", dns, False),
                                    ("wsl2.autoProxy", auto_proxy, False)):
            if before != after:
                st.adjust(name, before, after, "safeMode=true disables networking features", _CONFIG)
        mode, dns, auto_proxy, source = "none", False, False, "fallback" if mode != "none" else source
    if not _bool(cfg, "wsl2.virtio", True) and mode == "consomme":
        new = "none" if default_mode == "consomme" else "nat"
        st.adjust("wsl2.networkingMode", mode, new, "Consomme needs wsl2.virtio", _CONFIG,
                  MSG["consomme-requires-virtio"].format(MODE_DISPLAY[new]))
        mode, source = new, "fallback"
    if mode not in ("nat", "mirrored", "consomme") and dns:
        st.adjust("wsl2.dnsTunneling", True, False, f"DNS tunneling needs nat, mirrored or consomme (mode {mode})",
                  _CONFIG)
        dns = False

    # WslCoreVm::ValidateNetworkingMode, at VM start.
    support = mirrored_support(windows_build, ubr, installation_type)
    if support == "unknown":
        st.unknowns.append("Windows build/UBR unknown: cannot tell whether mirrored mode and Hyper-V firewall work")
    elif support == "likely":
        st.unknowns.append(f"Windows {windows_build}.{ubr} is a preview update of 22H2: mirrored assumed to work")
    unsupported = support == "unsupported"
    if firewall and mode in ("mirrored", "nat") and unsupported:
        st.adjust("wsl2.firewall", True, False, "this Windows build has no Hyper-V firewall (v2)", _VM,
                  MSG["hyperv-firewall-unsupported"] if _present(cfg, "wsl2.firewall") else None)
        firewall = False
    dc = _dword(ipv6_disabled_components)
    if mode == "mirrored" and dc == 0xFF:
        st.adjust("wsl2.networkingMode", "mirrored", "nat", "IPv6 disabled via DisabledComponents=0xFF", _VM,
                  MSG["mirrored-unsupported"].format(MSG["mirrored-reason-ipv6"]))
        mode, source = "nat", "fallback"
    if mode == "mirrored" and _kernel_older_than_5_10(kernel_version):
        st.adjust("wsl2.networkingMode", "mirrored", "nat", f"kernel {kernel_version} is older than 5.10", _VM,
                  MSG["mirrored-unsupported"].format(MSG["mirrored-reason-kernel"]))
        mode, source = "nat", "fallback"
    elif mode == "mirrored" and (unsupported or not firewall):
        why = _unsupported_why(windows_build, ubr, installation_type) if unsupported else "the Hyper-V firewall is off"
        st.adjust("wsl2.networkingMode", "mirrored", "nat", why, _VM, MSG["mirrored-unsupported"].format(
            MSG["mirrored-reason-windows"].format(windows_build, ubr if ubr is not None else 0)))
        mode, source = "nat", "fallback"
    if mode == "mirrored" and _present(cfg, "wsl2.localhostForwarding"):
        st.warnings.append(MSG["localhost-forwarding-mirrored"])
    if dns and unsupported:
        st.adjust("wsl2.dnsTunneling", True, False, "DNS tunneling needs Windows 11 22H2 or later (inference)", _VM,
                  MSG["dns-tunneling-unsupported"] if _present(cfg, "wsl2.dnsTunneling") else None)
        dns = False

    # Config::Initialize clears mirrored-only options (kept last: the VM-start fallbacks also make them moot).
    ports_key = cfg.settings.get("experimental.ignoredPorts")
    ports = list(ports_key.effective or []) if ports_key is not None else []
    loopback = _bool(cfg, "experimental.hostAddressLoopback", False)
    if mode != "mirrored":
        if ports:
            st.adjust("experimental.ignoredPorts", ports, [], "only used in mirrored mode", _CONFIG)
        if loopback:
            st.adjust("experimental.hostAddressLoopback", True, False, "only used in mirrored mode", _CONFIG)
        ports, loopback = [], False

    blocked = wsl_blocked(policy, inbox_only)
    if blocked:
        st.adjust("wsl2.networkingMode", mode, "disabled", blocked, _VM)
        mode, source = "disabled", "policy"
    label = "virtioproxy" if mode == "consomme" and version is not None and version < (2, 9, 0) else mode
    return EffectiveSettings(
        configured_mode=cfg.configured_mode, mode=label, mode_source=source, firewall=firewall,
        dns_tunneling=dns, auto_proxy=auto_proxy,
        localhost_forwarding=_bool(cfg, "wsl2.localhostForwarding", True) and mode == "nat",
        host_address_loopback=loopback, ignored_ports=ports, mirrored_support=support,
        adjustments=st.adjustments, wsl_warnings=st.warnings, unknowns=st.unknowns, blocked=blocked,
    )
