"""NTLM password hashes, derived once instead of per login.

Given a password, pyspnego derives the NT *and* the LM hash for every NTLM context, the LM one with
pure-Python DES (~1.6 ms of CPU per host, a third of the native engine's per-host cost); NTLMv2 needs
only the NT hash. The NT hash is MD4, which OpenSSL 3 leaves out of its default provider (hashlib
cannot be relied on), so the functions come from pyspnego's ``_ntlm_raw.crypto``: a private module,
which is why pyproject.toml pins pyspnego to one exact version (an upgrade is a deliberate change,
and tests/unit/test_wsman_messages.py checks these against the MS-NLMP test vectors). This module is
the one place that imports it.
"""

from __future__ import annotations

from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1


def nt_hash(password: str) -> str:
    """MD4 of the UTF-16LE password, upper-case hex (MS-NLMP NTOWFv1)."""
    return ntowfv1(password).hex().upper()


def lm_hash(password: str) -> str:
    """The LM hash, upper-case hex (MS-NLMP LMOWFv1): only the lab's user file needs it."""
    return lmowfv1(password).hex().upper()
