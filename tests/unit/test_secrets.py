"""The one definition of a secret, the never-printing Secret type and secret collection."""

from __future__ import annotations

import pickle

import pytest

from auditor.inventory.vault import VaultSecret, VaultedValue
from auditor.secrets import MASK, Secret, SecretUnavailable, export_values, import_values, is_secret_name, public_vars, scrub_text, secret_values


def _vaulted(plain: str) -> VaultedValue:
    """A value encrypted by ansible-core's own vault code (the test extra installs it)."""
    from ansible.parsing.vault import VaultLib, VaultSecret as AnsibleSecret

    text = VaultLib([("default", AnsibleSecret(b"k"))]).encrypt(plain).decode()
    return VaultedValue(text, (VaultSecret("default", b"k"),))


@pytest.mark.parametrize("name", ["ansible_password", "api_key", "token", "client_secret", "ssh_passphrase", "private_key",
                                  "ansible_winrm_cert_key_pem", "vault_password", "Authorization"])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["ansible_ssh_private_key_file", "ansible_vault_password_file", "key_path", "vault_id",
                                  "ansible_user", "passed", "networkingMode"])
def test_names_that_only_point_at_secrets_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_secret_never_prints_and_pickles_without_its_value() -> None:
    s = Secret("hunter2-very-secret")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s) and "hunter2" not in f"{s}"
    data = pickle.dumps({"password": s})
    assert b"hunter2" not in data
    assert pickle.loads(data)["password"].reveal() == "hunter2-very-secret"  # same process: the store has it


def test_a_secret_without_its_value_in_this_process_is_a_clear_error() -> None:
    s = Secret("only-here")
    values = export_values([s])
    from auditor import secrets as mod

    del mod._VALUES[s.id]
    with pytest.raises(SecretUnavailable):
        s.reveal()
    import_values(values)
    assert s.reveal() == "only-here"


def test_secret_values_finds_nested_and_vaulted_values_of_any_name() -> None:
    vaulted = _vaulted("vaulted-pw-123")
    found = secret_values({"winrm": {"password": "nested-pw"}, "note": vaulted, "api_key": "key-123456",
                           "user": "dev", "list": [{"token": "tok-abcdef"}], "short": {"pin": "12"}})
    assert found == {"nested-pw", "vaulted-pw-123", "key-123456", "tok-abcdef"}


def test_public_vars_masks_nested_and_vaulted() -> None:
    vaulted = _vaulted("v")
    out = public_vars({"winrm": {"password": "x", "port": 5985}, "anything": vaulted, "user": "dev"})
    assert out == {"winrm": {"password": MASK, "port": 5985}, "anything": MASK, "user": "dev"}


def test_scrub_text_replaces_in_every_string() -> None:
    assert scrub_text({"m": ["echo s3cr3t!", {"x": "s3cr3t!s3cr3t!"}]}, {"s3cr3t!"}) == {"m": [f"echo {MASK}", {"x": MASK * 2}]}
