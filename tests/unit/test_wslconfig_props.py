"""Property tests: the parser never raises, results are JSON, and encodings WSL accepts parse identically."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.mirrored.wslconfig import effective_settings, parse_wslconfig

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Lines built from the pieces that matter to WSL's scanner, so the interesting paths are reached often.
_piece = st.sampled_from([
    "[wsl2]", "[experimental]", "[general]", "[bad-name]", "[", "]", "networkingMode", "firewall", "ignoredPorts",
    "hostAddressLoopback", "=", " ", "\t", "#", ";", '"', "\\", "\\\n", "\r", "\n", "mirrored", "nat", "true",
    "yes", "0x1f", "53,80", "\x00", "\x1a", "é", "\U0001f600", "ŭ",
])
ini_text = st.lists(st.one_of(_piece, st.text(max_size=5)), max_size=40).map("".join)


def check(cfg) -> None:
    json.dumps(cfg.to_dict())
    n_lines = cfg.decoded.wsl_text.count("\n") + cfg.decoded.wsl_text.count("\r") + 2 if cfg.decoded.wsl_text else 2
    for w in cfg.warnings:
        assert w.line is None or 1 <= w.line <= n_lines
    for s in cfg.settings.values():
        assert s.start_line <= s.line
        assert (s.effective == s.value) if s.valid else (s.value is None)
    eff = effective_settings(cfg, policy={"AllowNetworkingModeUserSetting": 0}, windows_build=19045, ubr=1,
                             ipv6_disabled_components=255, wsl_version="2.0.4")
    json.dumps(eff.to_dict())
    assert eff.mode in {"nat", "none", "bridged", "consomme", "mirrored"}


@FAST
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data):
    check(parse_wslconfig(data))


@FAST
@given(ini_text, st.sampled_from(["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-16", "cp1252"]))
def test_arbitrary_text_in_each_encoding(text, encoding):
    data = text.encode(encoding, "replace")
    check(parse_wslconfig(data))


@FAST
@given(ini_text)
def test_encodings_wsl_accepts_parse_the_same(text):
    def wsl_view(data: bytes):
        cfg = parse_wslconfig(data)
        return ({k: s.to_dict() for k, s in cfg.settings.items()},
                [w.to_dict() for w in cfg.warnings if w.source == "wsl"])

    plain = wsl_view(text.encode("utf-8"))
    assert wsl_view(b"\xef\xbb\xbf" + text.encode("utf-8")) == plain
    assert wsl_view(b"\xff\xfe" + text.encode("utf-16-le")) == plain


@FAST
@given(ini_text, st.dictionaries(st.sampled_from(["DefaultNetworkingMode", "AllowNetworkingModeUserSetting",
                                                  "AllowFirewallUserSetting", "x"]),
                                 st.one_of(st.none(), st.integers(), st.text(max_size=4), st.booleans())),
       st.one_of(st.none(), st.integers(-5, 30000)), st.one_of(st.none(), st.integers(-1, 10**6)),
       st.one_of(st.none(), st.integers(), st.text(max_size=5)), st.one_of(st.none(), st.text(max_size=12)))
def test_effective_never_raises(text, policy, build, ubr, ipv6, version):
    e = effective_settings(parse_wslconfig(text.encode()), policy=policy, windows_build=build, ubr=ubr,
                           ipv6_disabled_components=ipv6, wsl_version=version, kernel_version=version)
    json.dumps(e.to_dict())
