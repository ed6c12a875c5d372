"""Ansible Vault (format 1.1 and 1.2, AES256) decryption, and the secrets that open it.

The format: a header ``$ANSIBLE_VAULT;1.1;AES256`` (1.2 adds ``;vault-id``), then the hex encoding
of ``hex(salt) \\n hex(hmac) \\n hex(ciphertext)`` in 80-column lines. Keys come from
PBKDF2-HMAC-SHA256 (10000 rounds) of the password: 32 bytes AES key, 32 bytes HMAC key, 16 bytes
CTR nonce. The HMAC-SHA256 of the ciphertext is checked before anything is decrypted.

Secrets never appear in an exception message, a repr or a log line; only vault ids and file
names do.
"""

from __future__ import annotations

import binascii
import functools
import os
import subprocess
import sys
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

HEADER = "$ANSIBLE_VAULT"
DEFAULT_ID = "default"


class VaultError(Exception):
    """Vault data that cannot be decrypted. The message never holds a secret or plaintext."""


@dataclass(frozen=True)
class VaultSecret:
    vault_id: str
    password: bytes = field(repr=False)


def is_encrypted(data: str | bytes) -> bool:
    if isinstance(data, bytes):
        return data.startswith(HEADER.encode())
    return data.startswith(HEADER)


@dataclass(frozen=True)
class VaultedValue:
    """A ``!vault`` value: kept encrypted, opened only when a transport needs it."""

    ciphertext: str
    secrets: tuple[VaultSecret, ...] = field(default=(), repr=False, compare=False)

    def decrypt(self) -> str:
        return decrypt(self.ciphertext, self.secrets).decode("utf-8", errors="replace")

    def __str__(self) -> str:  # never the plaintext
        return "<vaulted>"

    __repr__ = __str__


def decrypt(vaulttext: str | bytes, secrets: tuple[VaultSecret, ...] | list[VaultSecret]) -> bytes:
    """Plaintext of one vault envelope, trying the secret named by its vault id first."""
    b_text = vaulttext.encode("ascii", errors="replace") if isinstance(vaulttext, str) else vaulttext
    lines = b_text.splitlines()
    header = lines[0].strip().split(b";") if lines else []
    if len(header) < 3 or header[0] != HEADER.encode():
        raise VaultError("not vault-encrypted data (missing $ANSIBLE_VAULT header)")
    version, cipher = header[1].strip().decode(errors="replace"), header[2].strip().decode(errors="replace")
    if version not in ("1.1", "1.2"):
        raise VaultError(f"unsupported vault format version {version!r} (expected 1.1 or 1.2)")
    if cipher != "AES256":
        raise VaultError(f"unsupported vault cipher {cipher!r} (expected AES256)")
    vault_id = header[3].strip().decode(errors="replace") if len(header) >= 4 else None
    if not secrets:
        raise VaultError("found vault-encrypted data but no vault password was given "
                         "(use --vault-password-file or --ask-vault-pass)")
    try:
        inner = binascii.unhexlify(b"".join(line.strip() for line in lines[1:]))
        salt_hex, hmac_hex, body_hex = inner.split(b"\n", 2)
        salt, hmac, body = (binascii.unhexlify(x) for x in (salt_hex, hmac_hex, body_hex))
    except (binascii.Error, ValueError):
        raise VaultError("malformed vault data (not the hex layout of the vault format)") from None
    ordered = sorted(secrets, key=lambda s: s.vault_id != vault_id) if vault_id else list(secrets)
    for secret in ordered:
        plain = _try_secret(secret.password, salt, hmac, body)
        if plain is not None:
            return plain
    label = f" (vault id {vault_id!r})" if vault_id else ""
    raise VaultError(f"vault decryption failed{label}: none of the given vault passwords opens it")


@functools.lru_cache(maxsize=64)
def _derive(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=80, salt=salt, iterations=10000).derive(password)
    return key[:32], key[32:64], key[64:80]


def _try_secret(password: bytes, salt: bytes, mac: bytes, body: bytes) -> bytes | None:
    aes_key, hmac_key, nonce = _derive(password, salt)
    check = HMAC(hmac_key, hashes.SHA256())
    check.update(body)
    try:
        check.verify(mac)
    except InvalidSignature:
        return None
    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(nonce)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(decryptor.update(body) + decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        raise VaultError("vault data decrypted to invalid padding (corrupt file?)") from None


# --- where secrets come from -------------------------------------------------------------------

def secret_from_file(path: str, vault_id: str = DEFAULT_ID) -> VaultSecret:
    """A password file (trailing whitespace stripped), or an executable that prints the password."""
    try:
        if os.access(path, os.X_OK) and os.path.isfile(path):
            proc = subprocess.run([path], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
            if proc.returncode != 0:
                raise VaultError(f"vault password script {path} exited with code {proc.returncode}")
            password = proc.stdout.strip(b"\r\n")
        else:
            with open(path, "rb") as fh:
                password = fh.read().strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise VaultError(f"cannot read vault password file {path}: {type(exc).__name__}") from None
    if not password:
        raise VaultError(f"vault password file {path} is empty")
    return VaultSecret(vault_id, password)


def secret_from_prompt(vault_id: str = DEFAULT_ID) -> VaultSecret:
    """Ask on the terminal; with no terminal, fail at once instead of waiting forever."""
    if not (sys.stdin and sys.stdin.isatty()):
        raise VaultError("--ask-vault-pass needs an interactive terminal (stdin is not a TTY); "
                         "use --vault-password-file instead")
    import getpass

    label = "Vault password: " if vault_id == DEFAULT_ID else f"Vault password ({vault_id}): "
    try:
        password = getpass.getpass(label).strip().encode("utf-8")
    except (EOFError, KeyboardInterrupt):
        raise VaultError("no vault password entered") from None
    if not password:
        raise VaultError("empty vault password entered")
    return VaultSecret(vault_id, password)


def secret_from_vault_id(spec: str) -> VaultSecret:
    """``--vault-id [label@]source`` where source is a password file or ``prompt``."""
    label, _, source = spec.rpartition("@")
    label = label or DEFAULT_ID
    if source == "prompt":
        return secret_from_prompt(label)
    return secret_from_file(source, label)


def collect_secrets(password_files: list[str] | None = None, vault_ids: list[str] | None = None,
                    ask: bool = False) -> list[VaultSecret]:
    """Secrets from the command line's --vault-password-file / --vault-id / --ask-vault-pass.

    Raises ``VaultError`` with a message that names files and ids, never a password.
    """
    secrets = [secret_from_vault_id(spec) for spec in vault_ids or []]
    secrets += [secret_from_file(path) for path in password_files or []]
    if ask:
        secrets.append(secret_from_prompt())
    return secrets
