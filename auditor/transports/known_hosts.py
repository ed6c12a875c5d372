"""The known_hosts file as the SSH transport reads it: parsed once, then only what was appended.

In ``accept-new`` mode a first audit of a fleet appends one line per new host while the other
hosts are still connecting, so the file changes all the time. Parsing it again for every host
is quadratic (asyncssh parses ~65k lines/s: a 1,500-host first scan would spend ~17 s of CPU on
it). Lines are appended (``sshopts.append_known_host``), so when the bytes parsed before are
still the file's first bytes (checked by digest: hashing is ~100x cheaper than parsing), only the
new complete lines are parsed. Anything else (a rewritten, edited or truncated file, markers such
as ``@revoked`` in the new lines) means a full parse.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import threading
from dataclasses import dataclass

import asyncssh

from auditor.transports.base import ConnectFailed


@dataclass
class _View:
    stamp: tuple[int, int, float]       # inode, size, mtime of the file when last read
    parsed: int                         # bytes parsed (a line still being written is left for later)
    digest: bytes                       # of those bytes
    parts: list[asyncssh.SSHKnownHosts]


_views: dict[str, _View] = {}
_lock = threading.Lock()  # the paramiko transport reads from pool threads


def read_known_hosts(path: str) -> list[asyncssh.SSHKnownHosts] | None:
    """The parsed file as parts (the file as first read, then appended chunks); None if it does
    not exist. Raises ``OSError``/``ValueError``/``UnicodeDecodeError`` when it cannot be used."""
    with _lock:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            _views.pop(path, None)
            return None
        stamp = (st.st_ino, st.st_size, st.st_mtime)
        view = _views.get(path)
        if view is not None and view.stamp == stamp:
            return view.parts
        with open(path, "rb") as fh:
            data = fh.read()
        if view is not None and len(data) > view.parsed and hashlib.sha1(data[:view.parsed]).digest() == view.digest:
            added = data[view.parsed:]
            added = added[: added.rfind(b"\n") + 1]  # a line still being written waits for the next read
            if b"@" not in added:
                if added:
                    view.parts = [*view.parts, asyncssh.import_known_hosts(added.decode("utf-8"))]
                    view.parsed += len(added)
                    view.digest = hashlib.sha1(data[:view.parsed]).digest()
                view.stamp = stamp
                return view.parts
        parts = [asyncssh.import_known_hosts(data.decode("utf-8"))]
        _views[path] = _View(stamp, len(data), hashlib.sha1(data).digest(), parts)
        return parts


def lookup(path: str, host: str, port: int) -> tuple[asyncssh.SSHKnownHosts, tuple] | None:
    """The first part of the file that names ``host``:``port`` (trusted keys or CAs), with asyncssh's
    match result (host keys, CA keys, revoked keys, ...); None when the file does not name it.
    A file that cannot be read or parsed is a ``ConnectFailed`` for the host."""
    address = host if _is_ip(host) else ""
    try:
        parts = read_known_hosts(path) or []
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise ConnectFailed(f"cannot read known_hosts file {path}: {exc}") from None
    for known in parts:
        found = known.match(host, address, port)
        if found[0] or found[1]:
            return known, found
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def forget() -> None:
    """Drop every parsed view (tests)."""
    with _lock:
        _views.clear()
