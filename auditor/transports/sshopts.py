"""SSH settings shared by the ``ssh`` (asyncssh) and ``paramiko`` transports.

Resolves one host's effective SSH settings from its ``ConnectionSpec`` and the OpenSSH-style options
Ansible users put in ``ansible_ssh_common_args`` / ``ansible_ssh_extra_args``, and keeps the
known_hosts file: both transports verify and record host keys the same way.

Precedence: options in the ssh args override the spec's host key policy, known_hosts file and
connect timeout (they are the host's own setting); for port, user and identity file the explicit
``ansible_port`` / ``ansible_user`` / ``ansible_ssh_private_key_file`` win, as with Ansible.
"""

from __future__ import annotations

import functools
import os
import shlex
import threading
from dataclasses import dataclass
from pathlib import Path

from auditor.errors import TransportError
from auditor.transports.base import ConnectionRequest, ConnectionSpec

#: Where accepted host keys go when neither the spec nor the ssh args name a file.
DEFAULT_KNOWN_HOSTS = "~/.auditor/known_hosts"
HOST_KEY_POLICIES = ("strict", "accept-new", "off")

# OpenSSH's StrictHostKeyChecking values -> our policy. "ask" would prompt: we never prompt, so strict.
_STRICT_VALUES = {
    "yes": "strict", "ask": "strict", "strict": "strict",
    "accept-new": "accept-new",
    "no": "off", "off": "off",
}
# Options that only tune OpenSSH's own client (multiplexing, logging): harmless to ignore.
_IGNORED_QUIET = {"controlmaster", "controlpersist", "controlpath", "loglevel", "batchmode",
                  "compression", "forwardagent", "forwardx11", "requesttty",
                  "tcpkeepalive", "checkhostip", "hashknownhosts", "addkeystoagent"}


class SshOptionError(TransportError):
    """A host's ssh options are malformed (e.g. a non-numeric port)."""


@dataclass(frozen=True)
class SshSettings:
    host: str
    port: int
    user: str | None
    key_file: str | None
    host_key_checking: str
    known_hosts_file: str
    connect_timeout: float
    keepalive_interval: float = 0.0
    keepalive_count_max: int = 3
    gssapi: bool = False  # Kerberos (GSS-API) key exchange and authentication: off, as OpenSSH's default
    ignored: tuple[str, ...] = ()  # options we saw but do not apply


def _parse_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    return None


def _int_opt(name: str, value: str, source: str) -> int:
    try:
        out = int(value)
    except ValueError:
        raise SshOptionError(f"{source}: {name} expects an integer, got {value!r}") from None
    if out < 0:
        raise SshOptionError(f"{source}: {name} must not be negative, got {value!r}")
    return out


def parse_ssh_args(text: str, source: str = "ansible_ssh_common_args") -> tuple[dict[str, str], list[str]]:
    """OpenSSH command-line options -> ({lower-case option: value}, [ignored options]); see ``_parse_ssh_args``.
    Hosts of a group share their args: each distinct text is split once (shlex costs ~0.8 ms)."""
    opts, ignored = _parse_cached(text, source)
    return dict(opts), list(ignored)


@functools.lru_cache(maxsize=1024)
def _parse_cached(text: str, source: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    opts, ignored = _parse_ssh_args(text, source)
    return tuple(opts.items()), tuple(ignored)


def _parse_ssh_args(text: str, source: str) -> tuple[dict[str, str], list[str]]:
    """OpenSSH command-line options -> ({lower-case option: value}, [ignored options]).

    Understands ``-o Key=Value``, ``-oKey=Value``, ``-o "Key Value"``, ``-p PORT``, ``-i FILE`` and
    ``-l USER``; the first value of an option wins, as with ssh. Flags without values are ignored.
    """
    try:
        words = shlex.split(text or "")
    except ValueError as exc:
        raise SshOptionError(f"{source}: cannot split {text!r}: {exc}") from None
    opts: dict[str, str] = {}
    ignored: list[str] = []
    short = {"-p": "port", "-i": "identityfile", "-l": "user"}
    i = 0
    while i < len(words):
        word = words[i]
        key: str | None = None
        value: str | None = None
        if word.startswith("-o"):
            body = word[2:] if len(word) > 2 else (words[i + 1] if i + 1 < len(words) else None)
            i += 1 if len(word) > 2 else 2
            if body is None:
                raise SshOptionError(f"{source}: -o needs an option")
            body = body.strip()
            sep = body.find("=")
            space = body.find(" ")
            cut = min(x for x in (sep, space, len(body)) if x >= 0)
            key, value = body[:cut].strip().lower(), body[cut + 1 :].strip().lstrip("=").strip()
            if not key or not value:
                raise SshOptionError(f"{source}: -o {body!r} needs the form Key=Value")
        elif word[:2] in short:
            key = short[word[:2]]
            value = word[2:] if len(word) > 2 else (words[i + 1] if i + 1 < len(words) else None)
            i += 1 if len(word) > 2 else 2
            if value is None:
                raise SshOptionError(f"{source}: {word} needs a value")
        else:
            i += 1
            if word.startswith("-"):
                ignored.append(word)
            continue
        opts.setdefault(key, value)
    return opts, ignored


def resolve_settings(spec: ConnectionRequest) -> SshSettings:
    """The effective SSH settings for one host (see the module docstring for precedence)."""
    v = spec.vars
    opts: dict[str, str] = {}
    ignored: list[str] = []
    for var in ("ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_ssh_args"):
        if v.get(var):
            o, ig = parse_ssh_args(str(v[var]), var)
            for key, value in o.items():
                opts.setdefault(key, value)
            ignored += ig

    policy = spec.host_key_checking
    hkc = v.get("ansible_host_key_checking", v.get("ansible_ssh_host_key_checking"))
    if hkc is not None and _parse_bool(hkc) is False:
        policy = "off"
    if "stricthostkeychecking" in opts:
        raw = opts["stricthostkeychecking"].lower()
        if raw not in _STRICT_VALUES:
            raise SshOptionError(f"ssh args: StrictHostKeyChecking expects yes, no or accept-new, got {raw!r}")
        policy = _STRICT_VALUES[raw]
    if policy not in HOST_KEY_POLICIES:
        raise SshOptionError(f"host_key_checking must be one of {', '.join(HOST_KEY_POLICIES)}, got {policy!r}")

    known = opts.get("userknownhostsfile", "").split()  # ssh allows several; the first is written
    known_file = known[0] if known else (spec.known_hosts_file or DEFAULT_KNOWN_HOSTS)

    port = spec.port
    if "port" in opts and not (v.get("ansible_port") or v.get("ansible_ssh_port")):
        port = _int_opt("Port", opts["port"], "ssh args")
    user = spec.user or opts.get("user")
    key_file = spec.private_key_file or opts.get("identityfile")
    timeout = spec.connect_timeout
    if "connecttimeout" in opts:
        timeout = float(_int_opt("ConnectTimeout", opts["connecttimeout"], "ssh args")) or timeout

    keepalive_interval, keepalive_count_max = 0.0, 3
    if "serveraliveinterval" in opts:
        keepalive_interval = float(_int_opt("ServerAliveInterval", opts["serveraliveinterval"], "ssh args"))
    if "serveralivecountmax" in opts:
        keepalive_count_max = max(1, _int_opt("ServerAliveCountMax", opts["serveralivecountmax"], "ssh args"))
    gssapi = False
    if "gssapiauthentication" in opts:
        flag = _parse_bool(opts["gssapiauthentication"])
        if flag is None:
            raise SshOptionError(f"ssh args: GSSAPIAuthentication expects yes or no, got {opts['gssapiauthentication']!r}")
        gssapi = flag
    applied = {"stricthostkeychecking", "userknownhostsfile", "port", "user", "identityfile",
               "connecttimeout", "serveraliveinterval", "serveralivecountmax", "hostname", "gssapiauthentication"}
    return SshSettings(
        host=opts.get("hostname", spec.host),
        port=int(port or 22),
        user=user,
        key_file=os.path.expanduser(key_file) if key_file else None,
        host_key_checking=policy,
        known_hosts_file=os.path.expanduser(known_file),
        connect_timeout=timeout,
        keepalive_interval=keepalive_interval,
        keepalive_count_max=keepalive_count_max,
        gssapi=gssapi,
        ignored=tuple(ignored + [k for k in opts if k not in applied and k not in _IGNORED_QUIET]),
    )


def ssh_settings(spec: "ConnectionSpec") -> SshSettings:
    """The SSH settings resolved into ``spec`` at plan time (an error for a spec built for another transport)."""
    if spec.ssh is None:
        raise TransportError(f"{spec.name}: no SSH settings were resolved for this host (connection {spec.connection})")
    return spec.ssh


# --- known_hosts ------------------------------------------------------------------------------


def known_hosts_name(host: str, port: int) -> str:
    """The host field OpenSSH writes: ``host`` on port 22, ``[host]:port`` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


_WRITE_LOCK = threading.Lock()  # one process may write the same file from many hosts/threads


def append_known_host(path: str, host: str, port: int, key_line: str) -> None:
    """Record an accepted host key (``key_line`` is ``"<type> <base64>"``) with one atomic append."""
    file = Path(path)
    line = f"{known_hosts_name(host, port)} {key_line.strip()}\n"
    with _WRITE_LOCK:
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # O_APPEND with a single write keeps concurrent writers (other processes too) from interleaving.
        fd = os.open(file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a hand-edited last line without newline
                line = "\n" + line
            os.write(fd, line.encode("ascii"))
        finally:
            os.close(fd)


def mismatch_message(host: str, port: int, path: str) -> str:
    return (f"host key mismatch for {known_hosts_name(host, port)}: the server's key differs from the one in "
            f"{path} (if the host was reinstalled, remove its line from that file)")


def unknown_host_message(host: str, port: int, path: str) -> str:
    return (f"unknown host key for {known_hosts_name(host, port)}: not in {path} and host key checking is "
            f"strict (add it, or use accept-new)")
