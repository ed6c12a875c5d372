"""build_plan shares the work hosts of a group have in common; every host must still get exactly the plan it
would get on its own (``host_plan``), and no secret may be in clear in a plan."""

from __future__ import annotations

import binascii
import os
import pickle
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from auditor.errors import BadInputError
from auditor.inventory import load_inventory
from auditor.inventory.connection import ConnectionDefaults
from auditor.inventory.model import Host, Inventory
from auditor.inventory.vault import VaultSecret
from auditor.plan import HostPlan, PlannedPlay, build_plan, host_plan, playbook_id
from auditor.playbook import load_playbook

VAULT = VaultSecret("default", b"plan-cache-test")

PLAYBOOK = """\
- name: everyone
  hosts: all
  gather:
    linux:
      - {name: kernel, command: "uname -s", parser: text}
  checks:
    - {id: K-1, title: kernel, that: "facts.kernel == 'Linux'"}
- name: windows only
  hosts: windows:dc1
  gather:
    windows:
      - {name: os, command: "ver", parser: text}
  checks:
    - {id: W-1, title: os, that: "facts.os != ''"}
"""


def vault(plain: str) -> str:
    """``plain`` as an inline ``!vault`` value (format 1.1, as ansible-vault writes it)."""
    salt = os.urandom(32)
    key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=80, salt=salt, iterations=10000).derive(VAULT.password)
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key[:32]), modes.CTR(key[64:80])).encryptor()
    body = encryptor.update(data) + encryptor.finalize()
    mac = HMAC(key[32:64], hashes.SHA256())
    mac.update(body)
    inner = b"\n".join(binascii.hexlify(x) for x in (salt, mac.finalize(), body))
    text = binascii.hexlify(inner).decode()
    lines = "\n".join(text[i:i + 80] for i in range(0, len(text), 80))
    return "!vault |\n" + textwrap.indent("$ANSIBLE_VAULT;1.1;AES256\n" + lines, "  ")


def _inventory_text() -> str:
    v = {name: textwrap.indent(vault(plain), " " * 10).lstrip() for name, plain in {
        "group_pw": "Group-Vault-Pw1", "host_pw": "Host-Vault-Pw2", "token": "Api-Token-345", "addr": "10.9.8.7",
        "site": "Site-Secret-678"}.items()}
    return f"""\
all:
  vars:
    fleet_owner: ops
    db_password: all-level-db-pw
  children:
    linux:
      vars:
        ansible_user: auditor
        ansible_password: {v["group_pw"]}
        ansible_ssh_common_args: -o UserKnownHostsFile=/tmp/kh -o StrictHostKeyChecking=yes
        settings: {{name: lin, token: nested-token-1, tags: [a, b]}}
      hosts:
        l1: {{ansible_host: 10.0.0.1, ansible_port: 22, note: one}}
        l2: {{ansible_host: 10.0.0.2, ansible_port: 2222, ansible_user: other}}
        l3: {{ansible_ssh_host: 10.0.0.3, note: alias}}
        l4:
          ansible_host: {v["addr"]}
        l5: {{ansible_host: 10.0.0.5, ansible_ssh_extra_args: -o HostName=jump.example}}
        l6: {{ansible_host: 10.0.0.6, ansible_ssh_common_args: -o StrictHostKeyChecking=maybe}}
        l7:
          ansible_host: 10.0.0.7
          ansible_password: {v["host_pw"]}
        l8: {{ansible_host: 10.0.0.8, auditor_tags: [x, y], inventory_hostname: ignored}}
        l9: {{ansible_host: 10.0.0.9, settings: {{name: own}}}}
        l10: {{ansible_host: 10.0.0.10, ansible_connection: paramiko, ansible_paramiko_host: 10.1.0.10}}
        l11: {{ansible_host: 10.0.0.11, ansible_timeout: 7}}
        l12: {{ansible_host: 10.0.0.12, ansible_user: auditor}}
    windows:
      vars:
        ansible_connection: winrm
        ansible_winrm_scheme: http
        ansible_winrm_transport: ntlm
        ansible_user: auditor
        ansible_password: Clear-Win-Pw9
      hosts:
        w1: {{ansible_host: 10.1.0.1, ansible_port: 5985}}
        w2: {{ansible_host: 10.1.0.2, ansible_port: 5985}}
        w3: {{ansible_host: 10.1.0.3, ansible_port: 5986, ansible_winrm_scheme: https}}
        w4: {{ansible_host: 10.1.0.4, ansible_port: 5985, ansible_winrm_transport: basic}}
        w5: {{ansible_host: 10.1.0.5, ansible_port: 5985, ansible_winrm_transport: basic}}
        w6:
          ansible_host: 10.1.0.6
          ansible_port: 5985
          api_token: {v["token"]}
        w7: {{ansible_host: 10.1.0.7, ansible_port: 5985, ansible_password: Other-Win-Pw0}}
        w8: {{ansible_host: winbox.example, ansible_winrm_host: 10.1.0.8}}
        w9: {{ansible_host: 10.1.0.9, ansible_winrm_read_timeout_sec: 5, ansible_winrm_operation_timeout_sec: 9}}
        w10: {{ansible_host: 10.1.0.10, ansible_winrm_transport: kerberos, ansible_user: a@EXAMPLE.COM}}
        w11: {{ansible_host: 10.1.0.11, ansible_connection: ssh, ansible_port: 22}}
        w12: {{ansible_host: 10.1.0.12, ansible_port: 5985}}
    dc1:
      vars:
        auditor_winrm_retries: 5
        site_secret: {v["site"]}
      hosts:
        w1:
        w2:
        d1: {{ansible_host: 10.2.0.1}}
    ungrouped:
      hosts:
        u1: {{ansible_connection: local}}
        u2: {{ansible_host: 10.3.0.2, ansible_password: ""}}
"""


@pytest.fixture()
def inventory(tmp_path: Path) -> Inventory:
    path = tmp_path / "hosts.yml"
    path.write_text(_inventory_text())
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "w12.yml").write_text("ansible_winrm_transport: basic\nansible_winrm_scheme: https\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "dc1.yml").write_text("dc_password: from-group-vars-file\n")
    return load_inventory([str(path)], vault_secrets=[VAULT])


@pytest.fixture()
def book(tmp_path: Path) -> Any:
    path = tmp_path / "pb.yml"
    path.write_text(PLAYBOOK)
    return load_playbook(path)


def one_by_one(inventory: Inventory, books: list[Any], cli: ConnectionDefaults) -> dict[str, HostPlan]:
    """The plans computed host by host, with no cache or sharing (the reference)."""
    out: dict[str, HostPlan] = {}
    for b in books:
        for play in b.plays:
            for host in inventory.select(play.hosts):
                if host.name not in out:
                    out[host.name] = host_plan(host, cli)
                out[host.name].plays.append(PlannedPlay(b.path, play, playbook_id(b)))
    return out


CLIS = [ConnectionDefaults(),
        ConnectionDefaults(connect_timeout=3.0, command_timeout=7.0, host_key_checking="off", known_hosts_file="/tmp/k")]


def assert_same_plans(plans: list[HostPlan], inventory: Inventory, books: list[Any], cli: ConnectionDefaults) -> None:
    expected = one_by_one(inventory, books, cli)
    assert [p.name for p in plans] == [n for n in inventory.hosts if n in expected]
    for plan in plans:
        ref = expected[plan.name]
        assert plan == ref, plan.name
        assert list(plan.variables) == list(ref.variables), plan.name  # the same order, too
        assert plan.spec_error == ref.spec_error and (plan.spec is None) == (ref.spec is None), plan.name


@pytest.mark.parametrize("cli", CLIS)
def test_every_host_gets_the_plan_it_gets_on_its_own(inventory: Inventory, book: Any, cli: ConnectionDefaults) -> None:
    plans = build_plan(inventory, [book], cli=cli)
    assert_same_plans(plans, inventory, [book], cli)
    by = {p.name: p for p in plans}
    # the inventory does exercise what the cache must get right
    assert by["w4"].spec is None and "10.1.0.4" in str(by["w4"].spec_error)      # the error names the host
    assert by["w5"].spec is None and "10.1.0.5" in str(by["w5"].spec_error)
    assert by["l6"].spec is None and by["l6"].spec_error
    assert by["l2"].spec is not None and (by["l2"].spec.port, by["l2"].spec.user) == (2222, "other")
    assert by["l4"].address == "10.9.8.7" and by["l3"].address == "10.0.0.3"
    assert by["l5"].spec is not None and by["l5"].spec.ssh is not None and by["l5"].spec.ssh.host == "jump.example"
    assert by["l1"].spec is not None and by["l1"].spec.ssh is not None and by["l1"].spec.ssh.host == "10.0.0.1"
    assert by["w1"].spec is not None and by["w1"].spec.winrm is not None and by["w1"].spec.winrm.retries == 5
    assert by["w2"].spec is not None and by["w2"].spec.host == "10.1.0.2"
    assert by["w7"].spec is not None and by["w7"].spec.password is not None
    assert by["w7"].spec.password.reveal() == "Other-Win-Pw0"
    assert by["l7"].spec is not None and by["l7"].spec.password is not None
    assert by["l7"].spec.password.reveal() == "Host-Vault-Pw2"
    assert {s.reveal() for s in by["w6"].secrets} >= {"Api-Token-345", "Clear-Win-Pw9", "all-level-db-pw"}
    assert "inventory_hostname" not in by["l8"].variables
    assert by["l9"].variables["settings"] == {"name": "own"}


@pytest.mark.parametrize("cli", CLIS)
def test_no_secret_in_clear_in_a_plan(inventory: Inventory, book: Any, cli: ConnectionDefaults) -> None:
    plans = build_plan(inventory, [book], cli=cli)
    dumped = pickle.dumps(plans) + repr(plans).encode()
    for secret in ("Group-Vault-Pw1", "Host-Vault-Pw2", "Api-Token-345", "Site-Secret-678", "Clear-Win-Pw9",
                   "Other-Win-Pw0", "all-level-db-pw", "nested-token-1", "from-group-vars-file"):
        assert secret.encode() not in dumped, secret
    by = {p.name: p for p in plans}
    assert by["l1"].variables["ansible_password"] == "********" and by["l1"].variables["settings"]["token"] == "********"
    assert {s.reveal() for s in by["w1"].secrets} >= {"Site-Secret-678", "from-group-vars-file"}


def test_hosts_edited_after_loading_and_hand_built_hosts(inventory: Inventory, book: Any) -> None:
    inventory.hosts["l1"].vars["ansible_port"] = 2200             # changed: the host's own now
    del inventory.hosts["l12"].vars["ansible_user"]               # removed: planned on its own
    inventory.hosts["w2"].vars["ansible_password"] = "Edited-Pw-11"
    inventory.hosts["hand"] = Host("hand", {"ansible_user": "h", "ansible_password": "Hand-Pw-12"}, ["linux"])
    inventory.groups["linux"].hosts.append("hand")
    plans = build_plan(inventory, [book])
    assert_same_plans(plans, inventory, [book], ConnectionDefaults())
    by = {p.name: p for p in plans}
    assert by["l1"].spec is not None and by["l1"].spec.port == 2200
    assert by["l12"].spec is not None and by["l12"].spec.user is None


def test_a_malformed_connection_variable_stops_planning_naming_the_host(tmp_path: Path, book: Any) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(textwrap.dedent("""\
        all:
          children:
            linux:
              vars: {ansible_user: a}
              hosts:
                ok1: {ansible_port: 22}
                bad1: {ansible_port: twenty}
                ok2: {ansible_port: 22}
        """))
    inv = load_inventory([str(path)])
    with pytest.raises(BadInputError) as cached:
        build_plan(inv, [book])
    with pytest.raises(BadInputError) as alone:
        host_plan(inv.hosts["bad1"], ConnectionDefaults())
    assert cached.value.message == alone.value.message and "bad1" in cached.value.message


def test_the_loader_shares_group_variables_and_keeps_ansibles_order(inventory: Inventory) -> None:
    w1, w2, l1 = inventory.hosts["w1"], inventory.hosts["w2"], inventory.hosts["l1"]
    assert w1.inherited is w2.inherited and w1.inherited is not l1.inherited
    assert w1.inherited is not None and l1.inherited is not None
    assert list(l1.vars)[:len(l1.inherited)] == list(l1.inherited)  # the host's own come after
    assert l1.vars["note"] == "one" and "note" not in l1.inherited
    assert w1.vars["site_secret"] is w1.inherited["site_secret"]


def test_building_pauses_the_collector_and_gives_it_back() -> None:
    import gc

    from auditor.inventory.loader import gc_paused

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()


def test_loading_leaves_the_collector_on(inventory: Inventory) -> None:
    import gc

    assert gc.isenabled()
