"""Inventory building blocks: ranges, INI typing, patterns, --limit, retry files, vault, connection vars."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import BadInputError
from auditor.inventory import Host, limit_hosts, load_inventory, write_retry_file
from auditor.inventory.connection import connection_request, host_platform
from auditor.inventory.hostnames import HostRangeError, expand_host_pattern, expand_range
from auditor.inventory.ini import parse_value
from auditor.inventory.patterns import PatternError, split_pattern
from auditor.inventory.vault import VaultedValue, VaultError, collect_secrets, decrypt, secret_from_file

CORPUS = Path(__file__).resolve().parents[1] / "data" / "inventories"
SECRETS = CORPUS / "_secrets"


# --- host names and ranges --------------------------------------------------------------------

@pytest.mark.parametrize("entry,names,port", [
    ("web[01:03].corp", ["web01.corp", "web02.corp", "web03.corp"], None),
    ("db-[a:c]", ["db-a", "db-b", "db-c"], None),
    ("n[0:10:5]", ["n0", "n5", "n10"], None),
    ("r[1:2]-u[1:2]", ["r1-u1", "r1-u2", "r2-u1", "r2-u2"], None),
    ("host:2222", ["host"], 2222),
    ("[2001:db8::1]:22", ["2001:db8::1"], 22),
    ("fe80::1", ["fe80::1"], None),
    ("10.0.0.[1:2]:2022", ["10.0.0.1", "10.0.0.2"], 2022),
    ("odd_name_", ["odd_name_"], None),
])
def test_expand_host_pattern(entry, names, port):
    assert expand_host_pattern(entry) == (names, port)


@pytest.mark.parametrize("bad", ["h[1]", "h[01:3]", "h[c:a]", "h[1:3:0]", "h[1:", "h[:]"])
def test_bad_ranges_raise(bad):
    with pytest.raises(HostRangeError):
        expand_range(bad)


# --- INI value typing (Python literals, else the text) ----------------------------------------

@pytest.mark.parametrize("text,value", [
    ("1", 1), ("-5", -5), ("0x10", 16), ("1.5", 1.5), ("True", True), ("None", None),
    ("true", "true"), ("yes", "yes"), ("'1'", "1"), ("[1, 'a']", [1, "a"]), ("(1, 2)", [1, 2]),
    ("{'a': (1,)}", {"a": [1]}), ("1j", "1j"), ("...", "..."), ("a b # c", "a b # c"), ("", ""),
])
def test_ini_value_typing(text, value):
    got = parse_value(text)
    assert got == value and type(got) is type(value)


# --- patterns ---------------------------------------------------------------------------------

@pytest.fixture
def inv(tmp_path):
    (tmp_path / "hosts.ini").write_text(
        "[web]\nw1\nw2\nw3\n[db]\nd1\nw2\n[dc:children]\nweb\ndb\n[other]\no1\n")
    return load_inventory([str(tmp_path / "hosts.ini")])


@pytest.mark.parametrize("pattern,hosts", [
    ("all", ["o1", "w1", "w2", "w3", "d1"]),  # level by level: all's children (other) before grandchildren
    ("*", ["o1", "w1", "w2", "w3", "d1"]),
    ("web:db", ["w1", "w2", "w3", "d1"]),
    ("web,db", ["w1", "w2", "w3", "d1"]),
    ("web:&db", ["w2"]),
    ("dc:!db", ["w1", "w3"]),
    ("!db:web", ["w1", "w3"]),           # exclusions apply after every plain term
    ("w*", ["w1", "w2", "w3"]),
    ("~^[wd]1$", ["w1", "d1"]),
    ("web[0]", ["w1"]),
    ("web[-1]", ["w3"]),
    ("web[1:2]", ["w2", "w3"]),
    ("web[1:]", ["w2", "w3"]),
    ("nosuch", []),
])
def test_patterns(inv, pattern, hosts):
    assert [h.name for h in inv.select(pattern)] == hosts


def test_pattern_errors(inv):
    with pytest.raises(PatternError, match="subscripted"):
        inv.select("web[9]")
    with pytest.raises(PatternError, match="invalid host pattern"):
        inv.select("~(")


def test_split_pattern_keeps_addresses_and_ranges_whole():
    assert split_pattern("a,b[1], c[2:3] , d") == ["a", "b[1]", "c[2:3]", "d"]
    assert split_pattern("web:!db:&x") == ["web", "!db", "&x"]
    assert split_pattern("2001:db8::1") == ["2001:db8::1"]
    assert split_pattern("host:22") == ["host:22"]


def test_limit_and_retry_file_round_trip(inv, tmp_path):
    retry = tmp_path / "out" / "last.retry"
    assert write_retry_file(retry, ["w3", "d1", "w3"]) == retry
    assert retry.read_text() == "w3\nd1\n"
    chosen = limit_hosts(inv, inv.select("all"), f"@{retry}")
    assert [h.name for h in chosen] == ["w3", "d1"]
    assert [h.name for h in limit_hosts(inv, inv.select("web"), "all:!w2")] == ["w1", "w3"]
    assert [h.name for h in limit_hosts(inv, inv.select("web"), None)] == ["w1", "w2", "w3"]
    assert write_retry_file(retry, []) is None and not retry.exists()  # no stale retry file


# --- vault ------------------------------------------------------------------------------------

def test_vault_decrypts_11_and_12_with_ids():
    secrets = collect_secrets([str(SECRETS / "vault-pass.txt")], [f"dev@{SECRETS / 'dev-pass.txt'}"])
    assert b"Db-Secret-2" in decrypt((CORPUS / "vault_files/group_vars/all.yml").read_text(), secrets)
    assert b"H1-Secret-3" in decrypt((CORPUS / "vault_files/host_vars/h1.yml").read_text(), secrets)
    script = secret_from_file(str(SECRETS / "vault-pass-script.sh"))
    assert script.password == b"corpus-vault-pw"


def test_vault_wrong_password_never_shows_secrets(tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    text = (CORPUS / "vault_files/host_vars/h1.yml").read_text()
    with pytest.raises(VaultError) as info:
        decrypt(text, [secret_from_file(str(wrong))])
    assert "dev" in str(info.value)  # names the vault id
    assert "not-the-password" not in str(info.value) and "H1-Secret" not in str(info.value)
    with pytest.raises(VaultError, match="no vault password"):
        decrypt(text, [])
    with pytest.raises(VaultError, match="malformed"):
        decrypt("$ANSIBLE_VAULT;1.1;AES256\nzz\n", [secret_from_file(str(wrong))])


def test_encrypted_vars_file_without_password_is_a_clear_error():
    with pytest.raises(BadInputError) as info:
        load_inventory([str(CORPUS / "vault_files/hosts.ini")])
    assert "no vault password" in info.value.message
    assert info.value.location.file.endswith("all.yml")


def test_vaulted_values_stay_encrypted_until_a_transport_needs_them():
    secrets = collect_secrets([str(SECRETS / "vault-pass.txt")], [f"dev@{SECRETS / 'dev-pass.txt'}"])
    inv = load_inventory([str(CORPUS / "vault_inline/hosts.yml")], vault_secrets=secrets)
    win1 = inv.hosts["win1"]
    assert isinstance(win1.vars["ansible_password"], VaultedValue)
    assert "Winrm-Secret" not in repr(win1) + str(win1.vars)
    spec = connection_request(win1)
    assert spec.password == "Winrm-Secret-1" and spec.connection == "winrm" and spec.user == "admin"
    assert "Winrm-Secret" not in repr(spec)
    assert isinstance(spec.vars["api_token"], VaultedValue)  # not a connection variable: left sealed


def test_vaulted_password_with_wrong_secret_names_host_not_secret(tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    inv = load_inventory([str(CORPUS / "vault_inline/hosts.yml")], vault_secrets=[secret_from_file(str(wrong))])
    with pytest.raises(BadInputError, match="win1.*ansible_password"):
        connection_request(inv.hosts["win1"])


# --- connection variables ---------------------------------------------------------------------

def test_connection_defaults_and_aliases():
    spec = connection_request(Host("web1", {}))
    assert (spec.host, spec.port, spec.connection, spec.user) == ("web1", 22, "ssh", None)
    spec = connection_request(Host("h", {"ansible_host": "a", "ansible_ssh_host": "b", "ansible_port": "2200",
                                      "ansible_user": "u1", "ansible_ssh_user": "u2",
                                      "ansible_private_key_file": "k1", "ansible_ssh_private_key_file": "k2",
                                      "ansible_timeout": 7}))
    assert (spec.host, spec.port, spec.user, spec.private_key_file, spec.connect_timeout) == ("b", 2200, "u2", "k2", 7.0)
    win = connection_request(Host("w", {"ansible_connection": "winrm", "ansible_port": 5985, "ansible_winrm_port": 5986,
                                     "ansible_password": "p1", "ansible_winrm_password": "p2"}))
    assert (win.connection, win.port, win.password) == ("winrm", 5986, "p2")
    assert connection_request(Host("w", {"ansible_connection": "winrm"})).port is None  # transport picks 5986
    assert connection_request(Host("l", {"ansible_connection": "ansible.builtin.local"})).connection == "local"
    assert connection_request(Host("p", {"ansible_connection": "paramiko"})).port == 22


@pytest.mark.parametrize("value", ["psrp", "docker", "community.docker.docker", "network_cli"])
def test_unsupported_connection_types_are_refused_by_name(value):
    with pytest.raises(BadInputError) as info:
        connection_request(Host("box1", {"ansible_connection": value}))
    assert "box1" in info.value.message and value in info.value.message and "supported" in info.value.message


def test_bad_port_is_a_clear_error():
    with pytest.raises(BadInputError, match="box1.*port"):
        connection_request(Host("box1", {"ansible_port": "twenty-two"}))


def test_host_platform():
    assert host_platform({"ansible_connection": "winrm"}) == "windows"
    assert host_platform({"ansible_shell_type": "powershell"}) == "windows"
    assert host_platform({"auditor_platform": "Linux", "ansible_connection": "winrm"}) == "linux"
    assert host_platform({}) == "linux"


def test_hand_built_inventory_still_selects():
    """Callers (tests, the lab) may build an Inventory by hand, naming groups only on hosts."""
    from auditor.inventory import Inventory

    inv = Inventory()
    inv.hosts["a"] = Host("a", {}, ["g"])
    inv.hosts["b"] = Host("b", {}, [])
    assert [h.name for h in inv.select("all")] == ["a", "b"]
    assert [h.name for h in inv.select("g")] == ["a"]
    assert [h.name for h in inv.select("all:!g")] == ["b"]
