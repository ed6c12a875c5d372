"""known_hosts read once, then only appended lines: correct when the file is appended to, rewritten or edited; a
lookup parses only the lines that can name the host and finds what a parse of the whole file finds."""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh
import pytest

from auditor.transports import known_hosts
from auditor.transports.known_hosts import MAX_SHARED_LINES, lookup, read_known_hosts
from auditor.transports.sshopts import append_known_host

KEYS = [asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip() for _ in range(3)]


@pytest.fixture(autouse=True)
def fresh():
    known_hosts.forget()
    yield
    known_hosts.forget()


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the texts read into the view (indexed)."""
    sizes: list[int] = []
    real = known_hosts._index
    monkeypatch.setattr(known_hosts, "_index", lambda view, text: sizes.append(len(text)) or real(view, text))
    return sizes


def _trusted(path: Path, host: str) -> list:
    hit = lookup(str(path), host, 22)
    return hit[1][0] if hit else []


def test_appended_lines_are_parsed_alone(tmp_path: Path, parses: list[int]):
    path = tmp_path / "known_hosts"
    append_known_host(str(path), "10.0.0.1", 22, KEYS[0])
    assert _trusted(path, "10.0.0.1") and len(parses) == 1
    assert _trusted(path, "10.0.0.1") and len(parses) == 1  # unchanged: no parse at all
    append_known_host(str(path), "10.0.0.2", 22, KEYS[1])
    append_known_host(str(path), "10.0.0.3", 22, KEYS[2])
    assert _trusted(path, "10.0.0.3") and _trusted(path, "10.0.0.1")
    full = path.stat().st_size
    assert parses[1] < full and parses[0] + parses[1] == full  # the second parse saw only the new lines


def test_a_line_being_written_waits(tmp_path: Path):
    path = tmp_path / "known_hosts"
    append_known_host(str(path), "10.0.0.1", 22, KEYS[0])
    read_known_hosts(str(path))
    with open(path, "a") as fh:
        fh.write(f"10.0.0.2 {KEYS[1][:20]}")  # half a line
    assert _trusted(path, "10.0.0.2") == []
    with open(path, "a") as fh:
        fh.write(f"{KEYS[1][20:]}\n")
    assert _trusted(path, "10.0.0.2")


def test_rewritten_or_edited_files_are_parsed_whole(tmp_path: Path, parses: list[int]):
    path = tmp_path / "known_hosts"
    path.write_text(f"10.0.0.1 {KEYS[0]}\n10.0.0.2 {KEYS[1]}\n")
    assert _trusted(path, "10.0.0.2")
    new = tmp_path / "new"
    new.write_text(f"10.0.0.1 {KEYS[0]}\n")
    os.replace(new, path)  # another inode: 10.0.0.2 was removed
    assert _trusted(path, "10.0.0.2") == [] and parses[-1] == path.stat().st_size
    text = path.read_text()
    with open(path, "r+") as fh:  # same inode, edited in place and grown
        fh.write(text.replace("10.0.0.1", "10.0.0.9") + f"10.0.0.3 {KEYS[2]}\n")
    assert _trusted(path, "10.0.0.1") == [] and _trusted(path, "10.0.0.9") and _trusted(path, "10.0.0.3")
    assert parses[-1] == path.stat().st_size


def test_markers_in_new_lines_mean_a_full_parse(tmp_path: Path, parses: list[int]):
    path = tmp_path / "known_hosts"
    append_known_host(str(path), "10.0.0.1", 22, KEYS[0])
    read_known_hosts(str(path))
    with open(path, "a") as fh:
        fh.write(f"@revoked * {KEYS[0]}\n")
    read_known_hosts(str(path))
    assert parses[-1] == path.stat().st_size
    hit = lookup(str(path), "10.0.0.1", 22)
    assert hit is not None and hit[1][2]  # the revoked key is in the host's answer


def test_append_after_a_last_line_without_newline(tmp_path: Path):
    path = tmp_path / "known_hosts"
    path.write_text(f"10.0.0.1 {KEYS[0]}")  # hand-edited, no final newline
    append_known_host(str(path), "10.0.0.2", 22, KEYS[1])
    assert path.read_text().splitlines() == [f"10.0.0.1 {KEYS[0]}", f"10.0.0.2 {KEYS[1]}"]
    assert _trusted(path, "10.0.0.1") and _trusted(path, "10.0.0.2")


def test_an_unreadable_file_is_one_clear_connect_error(tmp_path: Path):
    from auditor.transports.base import ConnectFailed
    from auditor.transports.known_hosts import lookup

    path = tmp_path / "known_hosts"
    path.write_bytes(b"10.0.0.1 \xff\xfe not text\n")
    with pytest.raises(ConnectFailed, match="cannot read known_hosts file .*known_hosts"):
        lookup(str(path), "10.0.0.1", 22)
    assert lookup(str(tmp_path / "absent"), "10.0.0.1", 22) is None


def _keys(found: tuple) -> list[list[bytes]]:
    return [sorted(k.public_data if hasattr(k, "public_data") else repr(k).encode() for k in group) for group in found]


def test_a_lookup_finds_what_the_whole_file_says_about_the_host(tmp_path: Path):
    """Names alone, several names on a line, [host]:port, addresses, hashed names, wildcards, negations, CIDR,
    revoked keys and CAs: for each host, the lookup's answer is asyncssh's answer over the whole file."""
    from auditor.transports.sshopts import known_hosts_name

    hashed = asyncssh.SSHKnownHosts()  # OpenSSH's |1|salt|hash form, made with asyncssh's own matcher in mind
    import base64
    import hmac
    from hashlib import sha1
    salt = b"0123456789abcdef0123"
    digest = hmac.new(salt, b"hashed.example", sha1).digest()
    hashed_name = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    text = "\n".join([
        "# a comment",
        f"alpha.example {KEYS[0]}",
        f"beta.example,10.0.0.2 {KEYS[1]}",
        f"{known_hosts_name('gamma.example', 2222)} {KEYS[2]}",
        f"{hashed_name} {KEYS[0]}",
        f"*.wild.example,!no.wild.example {KEYS[1]}",
        f"10.9.0.0/16 {KEYS[2]}",
        f"@revoked beta.example {KEYS[1]}",
        f"@cert-authority *.ca.example {KEYS[2]}",
        f"delta.example {KEYS[0]}",
        f"delta.example {KEYS[1]}",
        "",
    ])
    path = tmp_path / "known_hosts"
    path.write_text(text)
    whole = asyncssh.import_known_hosts(text)
    assert hashed is not None
    for host, port in [("alpha.example", 22), ("beta.example", 22), ("10.0.0.2", 22), ("gamma.example", 2222),
                       ("gamma.example", 22), ("hashed.example", 22), ("a.wild.example", 22), ("no.wild.example", 22),
                       ("10.9.3.4", 22), ("x.ca.example", 22), ("delta.example", 22), ("nobody.example", 22),
                       ("alpha.example", 2200)]:
        address = host if host[0].isdigit() else ""
        expected = whole.match(host, address, port)
        hit = lookup(str(path), host, port)
        if not (expected[0] or expected[1]):
            assert hit is None, host
            continue
        assert hit is not None, host
        assert _keys(hit[1]) == _keys(expected), host
        assert _keys(hit[0].match(host, address, port)) == _keys(expected), host  # what asyncssh is then given


def test_a_lookup_parses_only_the_hosts_own_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "known_hosts"
    path.write_text("".join(f"10.0.{i // 250}.{i % 250} {KEYS[i % 3]}\n" for i in range(500)))
    texts: list[str] = []
    real = asyncssh.import_known_hosts
    monkeypatch.setattr(known_hosts.asyncssh, "import_known_hosts", lambda text: texts.append(text) or real(text))
    assert _trusted(path, "10.0.1.7")
    assert texts == [f"10.0.1.7 {KEYS[257 % 3]}"]


def test_a_file_of_many_patterns_is_parsed_whole_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "known_hosts"
    path.write_text("".join(f"*.zone{i}.example {KEYS[i % 3]}\n" for i in range(MAX_SHARED_LINES + 1))
                    + f"plain.example {KEYS[0]}\n")
    texts: list[str] = []
    real = asyncssh.import_known_hosts
    monkeypatch.setattr(known_hosts.asyncssh, "import_known_hosts", lambda text: texts.append(text) or real(text))
    assert _trusted(path, "a.zone3.example") and _trusted(path, "plain.example") and _trusted(path, "b.zone7.example")
    assert len(texts) == 2 and texts[1] == path.read_text()  # the patterns checked, then the whole file once
