"""Table tests for the adjustments WSL makes after parsing (policy, Windows build, IPv6, versions)."""

from __future__ import annotations

import json

import pytest

from auditor.mirrored.wslconfig import effective_settings, parse_wslconfig
from auditor.mirrored.wslconfig_effective import mirrored_support

MIRRORED = b"[wsl2]\nnetworkingMode=mirrored\n"
WIN11 = {"windows_build": 22631, "ubr": 4317, "wsl_version": "2.6.1.0"}


def eff(data: bytes, **kw):
    args = {**WIN11, **kw}
    return effective_settings(parse_wslconfig(data), **args)


def test_mirrored_on_supported_windows():
    e = eff(MIRRORED)
    assert (e.configured_mode, e.mode, e.mode_source) == ("mirrored", "mirrored", "file")
    assert e.firewall and e.adjustments == [] and e.mirrored_support == "supported"


def test_absent_key_is_nat_by_default():
    e = eff(b"[wsl2]\nmemory=8GB\n")
    assert (e.configured_mode, e.mode, e.mode_source) == (None, "nat", "default")


def test_invalid_mode_falls_back_to_nat():
    e = eff(b"[wsl2]\nnetworkingMode=mirroredd\n")
    assert (e.configured_mode, e.mode, e.mode_source) == ("invalid", "nat", "default")


def test_policy_forces_nat():
    e = eff(MIRRORED, policy={"AllowNetworkingModeUserSetting": 0, "DefaultNetworkingMode": 1})
    assert (e.configured_mode, e.mode, e.mode_source) == ("mirrored", "nat", "policy")
    assert e.wsl_warnings == ["The .wslconfig setting 'wsl2.networkingMode' is disabled by the computer policy."]
    assert e.adjustments[0].setting == "wsl2.networkingMode" and e.adjustments[0].stage == "config"


def test_policy_allows_none_and_default_mirrored_applies_without_key():
    assert eff(b"[wsl2]\nnetworkingMode=none\n", policy={"AllowNetworkingModeUserSetting": 0}).mode == "none"
    e = eff(b"", policy={"DefaultNetworkingMode": 3})
    assert (e.mode, e.mode_source) == ("mirrored", "policy")


@pytest.mark.parametrize("policy", [{"AllowNetworkingModeUserSetting": 2}, {"AllowNetworkingModeUserSetting": None},
                                    {"allownetworkingmodeusersetting": "1"}, {"DefaultNetworkingMode": 2}])
def test_policy_values_wsl_ignores(policy):
    assert eff(MIRRORED, policy=policy).mode == "mirrored"


def test_firewall_forced_in_mirrored_and_by_policy():
    e = eff(b"[wsl2]\nnetworkingMode=mirrored\nfirewall=false\n")
    assert e.firewall and e.mode == "mirrored" and e.adjustments[0].setting == "wsl2.firewall"
    assert not eff(b"[wsl2]\nfirewall=false\n").firewall
    e = eff(b"[wsl2]\nfirewall=false\n", policy={"AllowFirewallUserSetting": 0})
    assert e.firewall and "'wsl2.firewall' is disabled by the computer policy" in e.wsl_warnings[0]


@pytest.mark.parametrize("build,ubr,kind,support,mode", [
    (19045, 5011, None, "unsupported", "nat"),        # Windows 10
    (22000, 2538, None, "unsupported", "nat"),        # Windows 11 21H2
    (22621, 2134, None, "unsupported", "nat"),        # 22H2 before the backport
    (22621, 2361, None, "likely", "mirrored"),        # preview update
    (22621, 2861, None, "supported", "mirrored"),
    (26100, 1, None, "supported", "mirrored"),
    (26100, 1, "Server", "unsupported", "nat"),
    (None, None, None, "unknown", "mirrored"),
])
def test_windows_build_fallback(build, ubr, kind, support, mode):
    e = eff(MIRRORED, windows_build=build, ubr=ubr, installation_type=kind)
    assert (e.mirrored_support, e.mode) == (support, mode)
    if mode == "nat":
        assert e.mode_source == "fallback" and e.adjustments[-1].stage == "vm-start"
        assert e.wsl_warnings[-1] == ("Mirrored networking mode is not supported: Windows version "
                                      f"{build}.{ubr} does not have the required features.\n"
                                      "Falling back to NAT networking.")
    if support in ("unknown", "likely"):
        assert e.unknowns


@pytest.mark.parametrize("value,mode", [(0xFF, "nat"), ("0xff", "nat"), ("255", "nat"), (0x20, "mirrored"),
                                        (None, "mirrored"), ("garbage", "mirrored")])
def test_ipv6_disabled_components(value, mode):
    e = eff(MIRRORED, ipv6_disabled_components=value)
    assert e.mode == mode
    if mode == "nat":
        assert "DisabledComponents=0xff" in e.wsl_warnings[0]


def test_kernel_too_old():
    e = eff(MIRRORED, kernel_version="5.4.72-microsoft-standard-WSL2")
    assert e.mode == "nat" and "Linux Kernel version 5.10" in e.wsl_warnings[0]


def test_localhost_forwarding_warning_in_mirrored():
    e = eff(b"[wsl2]\nnetworkingMode=mirrored\nlocalhostForwarding=true\n")
    assert e.wsl_warnings == ["The wsl2.localhostForwarding setting has no effect when using mirrored networking mode"]
    assert not e.localhost_forwarding


def test_mirrored_only_options_cleared_in_nat():
    data = b"[experimental]\nignoredPorts=53,8080\nhostAddressLoopback=true\n"
    e = eff(data)
    assert e.ignored_ports == [] and not e.host_address_loopback
    e = eff(b"[wsl2]\nnetworkingMode=mirrored\n" + data)
    assert e.ignored_ports == [53, 8080] and e.host_address_loopback


@pytest.mark.parametrize("data,version,mode", [
    (MIRRORED, "1.2.5.0", "nat"),                                  # predates networkingMode
    (MIRRORED, "2.0.4", "nat"),                                    # [wsl2] placement needs 2.0.5
    (b"[experimental]\nnetworkingMode=mirrored\n", "2.0.4", "mirrored"),
    (b"[wsl2]\nnetworkingMode=nat\n[experimental]\nnetworkingMode=mirrored\n", "2.0.4", "mirrored"),
    (b"[wsl2]\nnetworkingMode=consomme\n", "2.8.0", "nat"),         # 'Consomme' is 2.9+
    (b"[wsl2]\nnetworkingMode=virtioproxy\n", "2.8.0", "virtioproxy"),
    (b"[wsl2]\nnetworkingMode=virtioproxy\n", "2.9.4", "consomme"),
])
def test_wsl_version_effects(data, version, mode):
    assert eff(data, wsl_version=version).mode == mode


def test_safe_mode_and_gsa():
    e = eff(b"[wsl2]\nnetworkingMode=mirrored\nsafeMode=true\n")
    assert e.mode == "none" and not e.dns_tunneling and not e.auto_proxy
    e = eff(b"[wsl2]\ndnsTunneling=true\n", gsa_running=True)
    assert not e.dns_tunneling and "Global Secure Access" in e.wsl_warnings[0]


def test_result_is_json():
    e = eff(MIRRORED, policy={"AllowNetworkingModeUserSetting": 0})
    out = json.loads(json.dumps(e.to_dict()))
    assert out["mode"] == "nat" and out["adjustments"][0]["after"] == "nat"


def test_mirrored_support_function():
    assert mirrored_support(22631, None) == "unknown"
    assert mirrored_support(27000, None) == "supported"
