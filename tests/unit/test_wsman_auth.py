"""HTTPS channel binding over certificates cryptography cannot fully read."""

from __future__ import annotations

import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from auditor.transports.wsman.auth import _channel_bindings

SHA256_WITH_RSA = bytes.fromhex("06092A864886F70D01010B")
UNKNOWN_SIGNATURE_OID = bytes.fromhex("06092A864886F70D010163")  # 1.2.840.113549.1.1.99: no such algorithm


def _cert_der() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "winhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def test_a_known_signature_hash_is_used() -> None:
    der = _cert_der()
    bindings = _channel_bindings(der)
    assert bindings is not None and bindings.application_data == b"tls-server-end-point:" + hashlib.sha256(der).digest()


def test_an_unknown_signature_algorithm_falls_back_to_sha256() -> None:
    """cryptography raises UnsupportedAlgorithm here (from cryptography.exceptions; x509 has no such name)."""
    der = _cert_der().replace(SHA256_WITH_RSA, UNKNOWN_SIGNATURE_OID)
    bindings = _channel_bindings(der)
    assert bindings is not None and bindings.application_data == b"tls-server-end-point:" + hashlib.sha256(der).digest()


def test_the_pinned_pyspnego_still_derives_the_nt_hash() -> None:
    """pyspnego is pinned because the NTLM credential uses its private NT-hash helper: an upgrade that moves
    it fails here, not on a fleet."""
    from auditor.transports.wsman.auth import ntlm_credential

    assert ntlm_credential("u", "password").nt_hash == "8846F7EAEE8FB117AD06BDD830B7586C"  # MS-NLMP test vector
