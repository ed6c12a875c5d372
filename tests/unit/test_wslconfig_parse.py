"""Table tests for the WSL-faithful `.wslconfig` parser (samples: docs/research/domain.md 10.1; rules: configfile.cpp)."""

from __future__ import annotations

import json

import pytest

from auditor.mirrored.wslconfig import decode_wslconfig, parse_wslconfig

P = r"C:\Users\dev\.wslconfig"


def parse(text: str | bytes):
    return parse_wslconfig(text.encode() if isinstance(text, str) else text, path=P)


def msgs(cfg) -> list[tuple[int | None, str]]:
    return [(w.line, w.message) for w in cfg.warnings]


# --- docs/research/domain.md 10.1 samples ------------------------------------------------------------------------------

def test_field_note_recommended_config():
    cfg = parse("[wsl2]\nnetworkingMode=mirrored\nfirewall=true\ndnsTunneling=true\nautoProxy=true\n")
    assert cfg.configured_mode == "mirrored"
    assert cfg.warnings == []
    s = cfg.settings["wsl2.networkingMode"]
    assert (s.section, s.line, s.raw, s.value, s.effective) == ("wsl2", 2, "mirrored", "mirrored", "mirrored")
    assert cfg.settings["wsl2.firewall"].value is True


def test_legacy_experimental_form():
    cfg = parse("[experimental]\nautoMemoryReclaim=gradual\nnetworkingMode=mirrored\n"
                "dnsTunneling=true\nfirewall=true\nautoProxy=true\n")
    assert cfg.warnings == []
    nm = cfg.settings["wsl2.networkingMode"]
    assert (nm.name, nm.section, nm.line) == ("experimental.networkingMode", "experimental", 3)
    assert cfg.settings["experimental.autoMemoryReclaim"].value == "gradual"
    assert cfg.get("experimental.firewall") is cfg.settings["wsl2.firewall"]


def test_host_address_loopback_under_wsl2_is_unknown_key():
    cfg = parse("[wsl2]\nnetworkingMode=mirrored\ndnsTunneling=true\nhostAddressLoopback=true\n")
    assert msgs(cfg) == [(4, rf"Unknown key 'wsl2.hostAddressLoopback' in {P}:4")]
    assert [(u.name, u.line, u.raw) for u in cfg.unknown_keys] == [("wsl2.hostAddressLoopback", 4, "true")]
    assert "experimental.hostAddressLoopback" not in cfg.settings


def test_remediated_hash_comment():
    cfg = parse("[wsl2]\nmemory=8GB\n#networkingMode=mirrored\n")
    assert cfg.warnings == [] and cfg.configured_mode is None
    assert cfg.settings["wsl2.memory"].value == 8 << 30


def test_semicolon_is_not_a_comment():
    cfg = parse("[wsl2]\n;networkingMode=mirrored\n")
    assert msgs(cfg) == [(2, rf"Invalid key name in {P}:2")]
    assert cfg.configured_mode is None


def test_duplicate_first_wins_across_aliases():
    cfg = parse("[experimental]\nnetworkingMode=mirrored\n\n[wsl2]\nnetworkingMode=nat\n")
    assert cfg.configured_mode == "mirrored"
    assert msgs(cfg) == [(5, f"Duplicated config key 'wsl2.networkingMode' in {P}:5 "
                             f"(Conflicting key: 'experimental.networkingMode' in {P}:2)")]
    dup = cfg.settings["wsl2.networkingMode"].duplicates
    assert [(d.name, d.line, d.raw) for d in dup] == [("wsl2.networkingMode", 5, "nat")]


def test_invalid_first_occurrence_still_blocks_later_ones():
    # ConfigKey::Parse records the first occurrence even when its value is rejected.
    cfg = parse("[wsl2]\nnetworkingMode=mirored\nnetworkingMode=mirrored\n")
    assert cfg.configured_mode == "invalid"
    assert [w.code for w in cfg.warnings] == ["invalid-enum", "duplicate-key"]
    assert cfg.settings["wsl2.networkingMode"].effective == "nat"


# --- lexical rules ---------------------------------------------------------------------------------------

def test_trailing_hash_comment_and_case_insensitivity():
    cfg = parse("[WSL2]  # main\nNETWORKINGMODE = MIRRORED   # was nat\n")
    assert cfg.warnings == []
    s = cfg.settings["wsl2.networkingMode"]
    assert (s.name, s.raw, s.value) == ("WSL2.NETWORKINGMODE", "MIRRORED", "mirrored")


def test_quoted_hash_is_part_of_value_and_quotes_keep_spaces():
    cfg = parse('[wsl2]\nkernelCommandLine = "a # b" # comment\nswapFile=" x "\n')
    assert cfg.settings["wsl2.kernelCommandLine"].raw == "a # b"
    assert cfg.settings["wsl2.swapFile"].raw == " x "
    assert cfg.warnings == []


def test_quoted_networking_mode_with_spaces_is_invalid():
    cfg = parse('[wsl2]\nnetworkingMode=" mirrored"\n')
    assert cfg.configured_mode == "invalid"
    assert cfg.warnings[0].message.startswith("Invalid value ' mirrored' for config key 'wsl2.networkingMode'")


def test_line_continuation_counts_lines_like_wsl():
    cfg = parse("[wsl2]\nkernelCommandLine=a \\\n b\nnetworkingMode=bogus\n")
    kcl = cfg.settings["wsl2.kernelCommandLine"]
    assert (kcl.raw, kcl.start_line, kcl.line) == ("a  b", 2, 3)
    assert cfg.warnings[0].line == 4


def test_escapes_and_invalid_escape_skips_line():
    cfg = parse('[wsl2]\nkernelCommandLine=a\\tb\\"c\\\\\nswapFile=x\\qy\nnetworkingMode=mirrored\n')
    assert cfg.settings["wsl2.kernelCommandLine"].raw == 'a\tb"c\\'
    assert "wsl2.swapFile" not in cfg.settings
    assert msgs(cfg) == [(3, f"Invalid escaped character: 'q' in {P}:3")]
    assert cfg.configured_mode == "mirrored"


def test_unterminated_quote():
    cfg = parse('[wsl2]\nnetworkingMode="mirrored\n')
    assert msgs(cfg) == [(2, f'Expected " in {P}:2')] and cfg.configured_mode is None


@pytest.mark.parametrize("raw,ok,value", [
    ("true", True, True), ("TRUE", True, True), ("1", True, True), ("false", True, False), ("0", True, False),
    ("yes", False, None), ("on", False, None), ("t", False, None), ("01", False, None),
])
def test_booleans(raw, ok, value):
    cfg = parse(f"[wsl2]\nfirewall={raw}\n")
    s = cfg.settings["wsl2.firewall"]
    assert (s.valid, s.value, s.effective) == (ok, value, value if ok else True)
    if not ok:
        assert msgs(cfg) == [(2, f"Invalid boolean value '{raw}' for key 'wsl2.firewall' in {P}:2")]


@pytest.mark.parametrize("raw,mode", [
    ("nat", "nat"), ("NAT", "nat"), ("Mirrored", "mirrored"), ("none", "none"), ("bridged", "bridged"),
    ("virtioproxy", "consomme"), ("Consomme", "consomme"),
])
def test_networking_mode_values(raw, mode):
    assert parse(f"[wsl2]\nnetworkingMode={raw}\n").configured_mode == mode


def test_misplaced_and_sectionless_keys():
    cfg = parse("networkingMode=mirrored\n[wsl2]\nignoredPorts=53\nautoMemoryReclaim=dropcache\n"
                "[experimental]\nignoredPorts=53,abc,70000,,8080\nhostAddressLoopback=true\n")
    assert [u.name for u in cfg.unknown_keys] == ["networkingMode", "wsl2.ignoredPorts", "wsl2.autoMemoryReclaim"]
    assert cfg.settings["experimental.ignoredPorts"].value == [53, 8080]
    bad = [w.message for w in cfg.warnings if w.code == "invalid-integer"]
    assert bad == [f"Invalid integer value '53,abc,70000,,8080' for key 'experimental.ignoredPorts' in {P}:6"] * 2
    assert cfg.settings["experimental.hostAddressLoopback"].value is True


def test_bad_section_headers():
    cfg = parse("[wsl2]\n[system-distro-env]\nnetworkingMode=mirrored\n[1x]\n[ok] junk\n")
    assert [(w.line, w.code) for w in cfg.warnings] == [
        (2, "expected"), (3, "unknown-key"), (4, "invalid-section"), (5, "expected")]
    # WSL keeps a half-read section name in its key buffer: the key becomes 'syst.networkingMode'
    assert cfg.warnings[1].message == f"Unknown key 'syst.networkingMode' in {P}:3"
    assert cfg.warnings[0].message == f"Expected ']' in {P}:2"
    assert cfg.warnings[3].message == f"Expected ' ' or '\\n' in {P}:5"


def test_missing_equals():
    cfg = parse("[wsl2]\nnetworkingMode mirrored\n")
    assert msgs(cfg) == [(2, f"Expected '=' in {P}:2")]


def test_invalid_mac_is_fatal_and_stops_parsing():
    cfg = parse("[wsl2]\nmacAddress=zz\nnetworkingMode=mirrored\n")
    assert cfg.warnings[0].fatal and cfg.warnings[0].code == "invalid-mac"
    assert cfg.configured_mode is None


@pytest.mark.parametrize("raw,ok,value", [
    ("4096", True, 4096), ("0x10", True, 16), ("010", True, 8), (" 7", True, 7), ("7 ", True, 7),
    ("abc", False, None), ("99999999999", True, 2**31 - 1),
])
def test_integers(raw, ok, value):
    s = parse(f"[wsl2]\nvmIdleTimeout={raw}\n").settings["wsl2.vmIdleTimeout"]
    assert (s.valid, s.value) == (ok, value)


def test_crlf_and_lone_cr():
    cfg = parse(b"[wsl2]\r\nnetworkingMode=mirrored\r\nfirewall=bad\r\n")
    assert cfg.configured_mode == "mirrored" and cfg.warnings[0].line == 3


# --- encodings -------------------------------------------------------------------------------------------

SAMPLE = "[wsl2]\r\nnetworkingMode=mirrored\r\n"


@pytest.mark.parametrize("data,encoding", [
    (SAMPLE.encode(), "utf-8"),
    (b"\xef\xbb\xbf" + SAMPLE.encode(), "utf-8-bom"),
    (b"\xff\xfe" + SAMPLE.encode("utf-16-le"), "utf-16le-bom"),
])
def test_encodings_wsl_reads(data, encoding):
    cfg = parse(data)
    assert cfg.decoded.encoding == encoding and cfg.decoded.readable_by_wsl
    assert cfg.configured_mode == "mirrored" and cfg.warnings == []
    assert cfg.decoded.lines == [{"n": 1, "text": "[wsl2]"}, {"n": 2, "text": "networkingMode=mirrored"}]


def test_utf16le_without_bom_is_garbage_for_wsl():
    cfg = parse(SAMPLE.encode("utf-16-le"))
    assert cfg.decoded.encoding == "utf-16le-no-bom" and not cfg.decoded.readable_by_wsl
    assert cfg.configured_mode is None
    codes = [w.code for w in cfg.warnings]
    assert codes[0] == "encoding-utf16-no-bom" and "invalid-section" in codes and "invalid-key-name" in codes
    assert "reads a file without BOM as UTF-8" in cfg.warnings[0].message
    assert cfg.decoded.lines[1] == {"n": 2, "text": "networkingMode=mirrored"}  # shown as the user meant it


@pytest.mark.parametrize("data,encoding", [
    (b"\xfe\xff" + SAMPLE.encode("utf-16-be"), "utf-16be-bom"),
    (SAMPLE.encode("utf-16-be"), "utf-16be-no-bom"),
])
def test_utf16be_never_applies(data, encoding):
    cfg = parse(data)
    assert cfg.decoded.encoding == encoding and not cfg.decoded.readable_by_wsl
    assert cfg.configured_mode is None and cfg.settings == {}
    assert cfg.warnings[0].source == "auditor"
    assert cfg.decoded.lines[1]["text"] == "networkingMode=mirrored"


def test_nul_bytes_and_invalid_utf8_flagged():
    assert decode_wslconfig(b"[wsl2]\nnetworkingMode=mirrored\x00x\n").warnings[0].code == "encoding-nul"
    cfg = parse(b"[wsl2]\nvmSwitch=caf\xe9\nnetworkingMode=mirrored\n")
    assert cfg.warnings[0].code == "encoding-invalid-utf8" and cfg.configured_mode == "mirrored"


def test_nul_cuts_value_like_a_c_string():
    cfg = parse(b"[wsl2]\nnetworkingMode=mirrored\x00junk\n")
    assert cfg.configured_mode == "mirrored"


def test_size_bound_and_serialisable():
    big = b"[wsl2]\nnetworkingMode=mirrored\n" + b"# pad\n" * 20000
    cfg = parse(big)
    assert cfg.decoded.truncated and cfg.decoded.size == len(big)
    assert cfg.warnings[0].code == "too-large" and cfg.configured_mode == "mirrored"
    out = json.loads(json.dumps(cfg.to_dict()))
    assert out["settings"]["wsl2.networkingMode"]["line"] == 2
    assert len(out["decoded"]["lines"]) <= 64 * 1024


def test_empty_file():
    cfg = parse(b"")
    assert cfg.decoded.encoding == "empty" and cfg.settings == {} and cfg.warnings == []
