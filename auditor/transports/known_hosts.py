"""The known_hosts file as the SSH transport reads it: indexed once, then only what was appended; a host's
lines parsed when it connects.

In ``accept-new`` mode a first audit of a fleet appends one line per new host while the other
hosts are still connecting, so the file changes all the time. Parsing it again for every host
is quadratic (asyncssh parses ~65k lines/s: a 1,500-host first scan would spend ~17 s of CPU on
it). Lines are appended (``sshopts.append_known_host``), so when the bytes read before are
still the file's first bytes (checked by digest: hashing is ~100x cheaper than parsing), only the
new complete lines are read. Anything else (a rewritten, edited or truncated file, markers such
as ``@revoked`` in the new lines) means reading it whole.

A host's lookup parses only the lines that can name it, with asyncssh's own parser and matcher. asyncssh
matches a line's host field exactly (``host``, ``addr``, ``[host]:port``, ``[addr]:port``) unless it holds one of
``*?|/!`` (wildcards, negations, hashed names, CIDR), which it matches as patterns: such lines, and every line
with a marker (``@revoked``, ``@cert-authority``), are part of every lookup. So a lookup sees what a parse of the
whole file would give for that host, while a worker holds the file's lines (~0.6 MB for 6,000 hosts) instead of
every key parsed (~5.5 MB). A file with many pattern lines (hashed names, OpenSSH's ``HashKnownHosts``) is parsed
whole once instead, as before.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import threading
from dataclasses import dataclass, field

import asyncssh

from auditor.transports.base import ConnectFailed

#: characters that make asyncssh match a host field as a pattern (``known_hosts.SSHKnownHosts.load``)
_PATTERN_CHARACTERS = frozenset("*?|/!")
_MARKERS = ("cert-authority", "revoked")
#: past this many pattern or marker lines, parsing them with every lookup would cost more than one whole parse
MAX_SHARED_LINES = 64


@dataclass
class _View:
    stamp: tuple[int, int, float]       # inode, size, mtime of the file when last read
    parsed: int                         # bytes read (a line still being written is left for later)
    digest: bytes                       # of those bytes
    by_name: dict[str, list[str]] = field(default_factory=dict)  # exact host field entry -> its lines
    shared: list[str] = field(default_factory=list)              # pattern and marker lines: in every lookup
    whole: list[asyncssh.SSHKnownHosts] | None = None            # the file parsed (too many shared lines)


_views: dict[str, _View] = {}
_lock = threading.Lock()  # the paramiko transport reads from pool threads


def _index(view: _View, text: str) -> None:
    """Add ``text``'s lines to ``view``, all or none. Raises ``ValueError`` for a line asyncssh's parser would refuse."""
    by_name: dict[str, list[str]] = {}
    shared: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line[1:].split(None, 2) if line.startswith("@") else ["", *line.split(None, 1)]
        if len(fields) < 3:
            raise ValueError(f"Invalid known hosts entry: {line}")
        marker, pattern = fields[0], fields[1]
        if marker and marker not in _MARKERS:
            raise ValueError(f"Invalid known hosts marker: {marker}")
        if marker or _PATTERN_CHARACTERS.intersection(pattern):
            shared.append(line)
        else:
            for name in pattern.split(","):
                by_name.setdefault(name, []).append(line)
    if shared:
        asyncssh.import_known_hosts("\n".join(shared))  # a malformed hashed name raises here, as in a whole parse
    for name, lines in by_name.items():
        view.by_name.setdefault(name, []).extend(lines)
    view.shared += shared


def _read(data: bytes, stamp: tuple[int, int, float]) -> _View:
    view = _View(stamp, len(data), hashlib.sha1(data).digest())
    text = data.decode("utf-8")
    _index(view, text)
    if len(view.shared) > MAX_SHARED_LINES:
        view.by_name, view.shared, view.whole = {}, [], [asyncssh.import_known_hosts(text)]
    return view


def read_known_hosts(path: str) -> _View | None:
    """The file's view (its lines by host name, or parsed whole); None if it does not exist. Raises
    ``OSError``/``ValueError``/``UnicodeDecodeError`` when it cannot be used."""
    with _lock:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            _views.pop(path, None)
            return None
        stamp = (st.st_ino, st.st_size, st.st_mtime)
        view = _views.get(path)
        if view is not None and view.stamp == stamp:
            return view
        with open(path, "rb") as fh:
            data = fh.read()
        if view is not None and len(data) > view.parsed and hashlib.sha1(data[:view.parsed]).digest() == view.digest:
            added = data[view.parsed:]
            added = added[: added.rfind(b"\n") + 1]  # a line still being written waits for the next read
            if b"@" not in added:
                if added:
                    text = added.decode("utf-8")
                    if view.whole is not None:
                        view.whole = [*view.whole, asyncssh.import_known_hosts(text)]
                    else:
                        _index(view, text)
                    view.parsed += len(added)
                    view.digest = hashlib.sha1(data[:view.parsed]).digest()
                view.stamp = stamp
                if view.whole is not None or len(view.shared) <= MAX_SHARED_LINES:
                    return view
        view = _views[path] = _read(data, stamp)
        return view


def lookup(path: str, host: str, port: int) -> tuple[asyncssh.SSHKnownHosts, tuple] | None:
    """What the file says about ``host``:``port`` (trusted keys or CAs) as an ``SSHKnownHosts`` for asyncssh, with
    asyncssh's match result (host keys, CA keys, revoked keys, ...); None when the file does not name it.
    A file that cannot be read or parsed is a ``ConnectFailed`` for the host."""
    address = host if _is_ip(host) else ""
    try:
        view = read_known_hosts(path)
        if view is None:
            return None
        if view.whole is not None:
            parts = view.whole
        else:
            names = {host, address, f"[{host}]:{port}", f"[{address}]:{port}" if address else ""} - {""}
            lines = [line for name in sorted(names) for line in view.by_name.get(name, ())]
            parts = [asyncssh.import_known_hosts("\n".join([*view.shared, *dict.fromkeys(lines)]))]
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
