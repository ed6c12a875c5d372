"""Unit tests: ssh options from ansible_ssh_common_args, setting precedence, known_hosts writing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from auditor.transports.base import ConnectionRequest, get_transport
from auditor.transports.local import LocalTransport
from auditor.transports.paramiko_ssh import ParamikoTransport
from auditor.transports.ssh import SshTransport, connect_options
from auditor.transports.sshopts import (
    DEFAULT_KNOWN_HOSTS,
    SshOptionError,
    append_known_host,
    known_hosts_name,
    parse_ssh_args,
    resolve_settings,
)


def spec(**kw: object) -> ConnectionRequest:
    base = ConnectionRequest(name="h", host="10.0.0.5", port=22, user="u")
    for key, value in kw.items():
        setattr(base, key, value)
    return base


@pytest.mark.parametrize("text, expected", [
    ("-o StrictHostKeyChecking=no", {"stricthostkeychecking": "no"}),
    ("-oStrictHostKeyChecking=accept-new", {"stricthostkeychecking": "accept-new"}),
    ('-o "UserKnownHostsFile /tmp/k h"', {"userknownhostsfile": "/tmp/k h"}),
    ('-o "ConnectTimeout = 7"', {"connecttimeout": "7"}),  # spaces around "=" as ssh_config allows
    ("-p 2222 -i ~/.ssh/id -l bob", {"port": "2222", "identityfile": "~/.ssh/id", "user": "bob"}),
    ("-p2222", {"port": "2222"}),
    ("-o Port=1 -o Port=2", {"port": "1"}),  # first value wins, as with ssh
    ("-C -q -o ControlMaster=auto", {"controlmaster": "auto"}),
    ("", {}),
])
def test_parse_ssh_args(text: str, expected: dict[str, str]) -> None:
    assert parse_ssh_args(text)[0] == expected


def test_flags_without_values_are_reported_as_ignored() -> None:
    assert parse_ssh_args("-C -4 -o Port=3")[1] == ["-C", "-4"]


@pytest.mark.parametrize("text, message", [
    ("-o", "-o needs an option"),
    ("-o StrictHostKeyChecking", "Key=Value"),
    ("-p", "-p needs a value"),
    ("-o 'unterminated", "cannot split"),
])
def test_malformed_args_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(SshOptionError, match=message):
        parse_ssh_args(text)


@pytest.mark.parametrize("value, policy", [
    ("yes", "strict"), ("ask", "strict"), ("accept-new", "accept-new"), ("no", "off"), ("off", "off"),
])
def test_strict_host_key_checking_maps_to_a_policy(value: str, policy: str) -> None:
    s = resolve_settings(spec(vars={"ansible_ssh_common_args": f"-o StrictHostKeyChecking={value}"}))
    assert s.host_key_checking == policy


def test_defaults() -> None:
    s = resolve_settings(spec())
    assert (s.host_key_checking, s.port, s.connect_timeout) == ("accept-new", 22, 10.0)
    assert s.known_hosts_file == str(Path(DEFAULT_KNOWN_HOSTS).expanduser())


def test_args_override_policy_file_and_timeout() -> None:
    s = resolve_settings(spec(known_hosts_file="/spec/kh", host_key_checking="strict", vars={
        "ansible_ssh_common_args": "-o UserKnownHostsFile=/args/kh -o StrictHostKeyChecking=accept-new",
        "ansible_ssh_extra_args": "-o ConnectTimeout=3 -o ServerAliveInterval=15 -o ServerAliveCountMax=2"}))
    assert (s.known_hosts_file, s.host_key_checking, s.connect_timeout) == ("/args/kh", "accept-new", 3.0)
    assert (s.keepalive_interval, s.keepalive_count_max) == (15.0, 2)


def test_explicit_ansible_port_user_and_key_win_over_args() -> None:
    args = {"ansible_ssh_common_args": "-p 2200 -l other -i /args/key"}
    s = resolve_settings(spec(port=2022, user="u", private_key_file="/vars/key", vars={"ansible_port": 2022, **args}))
    assert (s.port, s.user, s.key_file) == (2022, "u", "/vars/key")
    s = resolve_settings(spec(user=None, vars=args))
    assert (s.port, s.user, s.key_file) == (2200, "other", "/args/key")


def test_ansible_host_key_checking_false_turns_checking_off() -> None:
    assert resolve_settings(spec(vars={"ansible_host_key_checking": False})).host_key_checking == "off"
    assert resolve_settings(spec(vars={"ansible_host_key_checking": "true"})).host_key_checking == "accept-new"


def test_unsupported_options_are_listed_not_applied() -> None:
    s = resolve_settings(spec(vars={"ansible_ssh_common_args": "-o ProxyCommand=evil -o ControlPersist=60s"}))
    assert s.ignored == ("proxycommand",)  # ControlPersist is harmless and ignored quietly


@pytest.mark.parametrize("args, message", [
    ("-o ConnectTimeout=soon", "ConnectTimeout expects an integer"),
    ("-p twenty", "Port expects an integer"),
    ("-o StrictHostKeyChecking=maybe", "StrictHostKeyChecking expects"),
    ("-o GSSAPIAuthentication=perhaps", "GSSAPIAuthentication expects yes or no"),
])
def test_bad_values_raise(args: str, message: str) -> None:
    with pytest.raises(SshOptionError, match=message):
        resolve_settings(spec(vars={"ansible_ssh_common_args": args}))


def test_unknown_policy_in_spec_raises() -> None:
    with pytest.raises(SshOptionError, match="host_key_checking must be one of"):
        resolve_settings(spec(host_key_checking="sometimes"))


def test_known_hosts_name() -> None:
    assert known_hosts_name("h", 22) == "h"
    assert known_hosts_name("127.0.0.1", 2222) == "[127.0.0.1]:2222"


def test_append_known_host_creates_private_file_and_never_interleaves(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "known_hosts"
    threads = [threading.Thread(target=append_known_host, args=(str(path), f"h{i}", 2200 + i, f"ssh-ed25519 KEY{i}"))
               for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = sorted(path.read_text().splitlines())
    assert lines == sorted(f"[h{i}]:{2200 + i} ssh-ed25519 KEY{i}" for i in range(50))
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("connection, cls", [("ssh", SshTransport), ("paramiko", ParamikoTransport),
                                              ("local", LocalTransport)])
def test_transports_register_themselves(connection: str, cls: type) -> None:
    assert isinstance(get_transport(spec(connection=connection)), cls)


def test_kerberos_is_off_unless_the_ssh_args_ask_for_it() -> None:
    """As OpenSSH (GSSAPIAuthentication no): asyncssh would otherwise try GSS-API whenever python-gssapi is installed."""
    default = resolve_settings(spec())
    assert default.gssapi is False and connect_options(default, "pw", None, True)["gss_host"] is None
    asked = resolve_settings(spec(vars={"ansible_ssh_common_args": "-o GSSAPIAuthentication=yes"}))
    assert asked.gssapi is True and "gss_host" not in connect_options(asked, "pw", None, True)
    assert "gssapiauthentication" not in asked.ignored
    assert resolve_settings(spec(vars={"ansible_ssh_extra_args": "-o GSSAPIAuthentication=no"})).gssapi is False


def test_connect_options_keys_and_passwords() -> None:
    s = resolve_settings(spec(private_key_file="/k/id"))
    assert connect_options(s, None, None, False)["client_keys"] == ["/k/id"]
    assert connect_options(resolve_settings(spec()), "pw", None, True)["client_keys"] is None  # no default keys tried
    assert "client_keys" not in connect_options(resolve_settings(spec()), None, None, False)  # agent/default keys
