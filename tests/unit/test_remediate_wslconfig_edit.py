"""The pure `.wslconfig` edit: encodings, BOMs, line endings, states, idempotency, WSL's own reading of the result."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.mirrored.wslconfig import parse_wslconfig
from auditor.mirrored.remediation.wslconfig_edit import EditError, edit_wslconfig

MIRRORED = "[wsl2]\nmemory=8GB\nnetworkingMode=mirrored\n"

ENCODINGS = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8-bom": lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
    "utf-16le-bom": lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
    "utf-16be-bom": lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
    "utf-16le-no-bom": lambda t: t.encode("utf-16-le"),
}


def nat(sections=("wsl2", "experimental")):
    return {"sections": list(sections), "key": "networkingMode", "state": "commented"}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_comment_out_keeps_encoding_bom_and_line_endings(encoding, newline):
    encode = ENCODINGS[encoding]
    data = encode(MIRRORED.replace("\n", newline))
    edit = edit_wslconfig(data, **nat())
    assert edit.changed and edit.encoding == encoding and edit.newline == newline
    assert edit.data == encode(MIRRORED.replace("networkingMode", "#networkingMode").replace("\n", newline))
    assert "-networkingMode=mirrored" in edit.diff and "+#networkingMode=mirrored" in edit.diff
    again = edit_wslconfig(edit.data, **nat())
    assert not again.changed and again.data == edit.data and again.diff == ""


def test_utf16le_with_bom_crlf_is_read_by_wsl_as_nat_afterwards():
    data = b"\xff\xfe" + "[wsl2]\r\nnetworkingMode=mirrored\r\n".encode("utf-16-le")
    assert parse_wslconfig(data).configured_mode == "mirrored"
    out = edit_wslconfig(data, sections=["wsl2"], key="networkingMode", state="present", value="nat").data
    assert out.startswith(b"\xff\xfe") and out[2:].decode("utf-16-le") == "[wsl2]\r\nnetworkingMode=nat\r\n"
    assert parse_wslconfig(out).configured_mode == "nat"


@pytest.mark.parametrize("text, kwargs, expected", [
    # comment out under both sections, leave comments and other keys alone; a trailing comment is kept
    ("[experimental]\nnetworkingMode=mirrored # vpn\n[wsl2]\n  NetworkingMode = Mirrored\n", nat(),
     "[experimental]\n#networkingMode=mirrored # vpn\n[wsl2]\n  #NetworkingMode = Mirrored\n"),
    # ';' is not a comment for WSL: the ';' line is not a key, the real key is still commented
    (";networkingMode=nat\n[wsl2]\nnetworkingMode=mirrored\n", nat(["wsl2"]),
     ";networkingMode=nat\n[wsl2]\n#networkingMode=mirrored\n"),
    # a key in another section is not touched
    ("[boot]\nnetworkingMode=mirrored\n", nat(["wsl2"]), None),
    # remove
    ("[wsl2]\nnetworkingMode=mirrored\nmemory=4GB", {"sections": ["wsl2"], "key": "networkingMode", "state": "absent"},
     "[wsl2]\nmemory=4GB"),
    # set: edit in place (first occurrence wins, as in WSL), keep the key's spelling and comment
    ("[wsl2]\nnetworkingmode = mirrored  # x\nnetworkingMode=bridged\n",
     {"sections": ["wsl2"], "key": "networkingMode", "state": "present", "value": "nat"},
     "[wsl2]\nnetworkingmode = nat  # x\nnetworkingMode=bridged\n"),
    # set: append to the section (after its last non-blank line), no final newline handled
    ("[wsl2]\nmemory=4GB\n\n[experimental]\nsparseVhd=true",
     {"sections": ["wsl2"], "key": "networkingMode", "state": "present", "value": "nat"},
     "[wsl2]\nmemory=4GB\nnetworkingMode=nat\n\n[experimental]\nsparseVhd=true"),
    # set: create the section at the end (file without final newline)
    ("[wsl2]\nmemory=4GB", {"sections": ["experimental"], "key": "ignoredPorts", "state": "present", "value": "8080"},
     "[wsl2]\nmemory=4GB\n\n[experimental]\nignoredPorts=8080\n"),
    # set on an empty file: CRLF by default
    ("", {"sections": ["wsl2"], "key": "networkingMode", "state": "present", "value": "nat"},
     "[wsl2]\r\nnetworkingMode=nat\r\n"),
    # merge a list: add only what is missing, keep order
    ("[experimental]\nignoredPorts=53, 8080\n",
     {"sections": ["experimental"], "key": "ignoredPorts", "state": "present", "value": "8080,5432", "merge_list": True},
     "[experimental]\nignoredPorts=53,8080,5432\n"),
    ("[experimental]\nignoredPorts=53,8080\n",
     {"sections": ["experimental"], "key": "ignoredPorts", "state": "present", "value": "8080", "merge_list": True}, None),
    # a continued value (backslash-newline) is commented out as a whole
    ("[wsl2]\nkernelCommandLine=a \\\nb\nmemory=1GB\n", {"sections": ["wsl2"], "key": "kernelCommandLine", "state": "commented"},
     "[wsl2]\n#kernelCommandLine=a \\\n#b\nmemory=1GB\n"),
    # mixed line endings: each line keeps its own, new lines use the dominant one
    ("[wsl2]\r\nmemory=4GB\r\nswap=0\n", {"sections": ["wsl2"], "key": "networkingMode", "state": "present", "value": "nat"},
     "[wsl2]\r\nmemory=4GB\r\nswap=0\nnetworkingMode=nat\r\n"),
])
def test_edit_table(text, kwargs, expected):
    edit = edit_wslconfig(text.encode(), **kwargs)
    if expected is None:
        assert not edit.changed and edit.data == text.encode()
    else:
        assert edit.data.decode() == expected
        assert not edit_wslconfig(edit.data, **kwargs).changed  # idempotent


def test_invalid_utf8_bytes_survive_an_edit():
    data = b"# caf\xe9 (latin-1)\r\n[wsl2]\r\nnetworkingMode=mirrored\r\n"
    out = edit_wslconfig(data, **nat()).data
    assert out == b"# caf\xe9 (latin-1)\r\n[wsl2]\r\n#networkingMode=mirrored\r\n"


@pytest.mark.parametrize("kwargs, message", [
    ({"sections": ["wsl2"], "key": "networking mode", "state": "commented"}, "not a WSL section or key name"),
    ({"sections": [], "key": "networkingMode", "state": "commented"}, "at least one section"),
    ({"sections": ["wsl2"], "key": "networkingMode", "state": "present", "value": "nat # x"}, "would not survive"),
    ({"sections": ["wsl2"], "key": "networkingMode", "state": "present"}, "needs a non-empty value"),
    ({"sections": ["wsl2"], "key": "networkingMode", "state": "bogus"}, "state must be one of"),
])
def test_invalid_requests(kwargs, message):
    with pytest.raises(EditError, match=message):
        edit_wslconfig(b"[wsl2]\n", **kwargs)


def test_odd_length_utf16_is_refused():
    with pytest.raises(EditError, match="odd number of bytes"):
        edit_wslconfig(b"\xff\xfe[\x00w\x00s", **nat())


LINE = st.sampled_from(["[wsl2]", "[experimental]", "networkingMode=mirrored", "memory=4GB", "# note", "; x",
                        "  networkingmode = nat", "ignoredPorts=53", "", "junk line", "[bad section"])


@settings(max_examples=150, deadline=None)
@given(st.lists(LINE, max_size=12), st.sampled_from(["\r\n", "\n"]), st.sampled_from(list(ENCODINGS)))
def test_commenting_out_always_yields_nat_and_is_idempotent(lines, newline, encoding):
    data = ENCODINGS[encoding](newline.join(lines))
    edit = edit_wslconfig(data, **nat())
    assert not edit_wslconfig(edit.data, **nat()).changed
    after = parse_wslconfig(edit.data)
    if after.decoded.readable_by_wsl:
        assert after.settings.get("wsl2.networkingMode") is None
    # every line keeps its bytes, except that some gain one '#' after their indent
    codec = "utf-8" if encoding.startswith("utf-8") else encoding[:9]
    old_lines, new_lines = data.decode(codec).split(newline), edit.data.decode(codec).split(newline)
    assert len(old_lines) == len(new_lines)
    for old, new in zip(old_lines, new_lines):
        assert new == old or (new.replace("#", "", 1) == old and "etworking" in old)
