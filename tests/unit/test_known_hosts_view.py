"""known_hosts read once, then only appended lines: correct when the file is appended to, rewritten or edited."""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh
import pytest

from auditor.transports import known_hosts
from auditor.transports.known_hosts import read_known_hosts
from auditor.transports.sshopts import append_known_host

KEYS = [asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip() for _ in range(3)]


@pytest.fixture(autouse=True)
def fresh():
    known_hosts.forget()
    yield
    known_hosts.forget()


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the texts handed to asyncssh's parser."""
    sizes: list[int] = []
    real = asyncssh.import_known_hosts
    monkeypatch.setattr(known_hosts.asyncssh, "import_known_hosts", lambda text: sizes.append(len(text)) or real(text))
    return sizes


def _trusted(path: Path, host: str) -> list:
    for part in read_known_hosts(str(path)) or []:
        keys, ca_keys, *_ = part.match(host, host, 22)
        if keys or ca_keys:
            return keys
    return []


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
    parts = read_known_hosts(str(path)) or []
    assert len(parts) == 1 and parses[-1] == path.stat().st_size
    *_, revoked = parts[0].match("10.0.0.1", "10.0.0.1", 22)[:3]
    assert revoked


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
