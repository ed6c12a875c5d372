"""A throw-away lab CA, one server certificate for every host address, and a client certificate.

Clients validate the server against ``ca.pem`` (``ansible_winrm_ca_trust_path``); certificate
authentication uses ``client.pem`` / ``client.key`` (``ansible_winrm_cert_pem`` / ``_cert_key_pem``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class LabCerts:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "auditor lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, data: bytes, private: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _issue(subject: str, key: ec.EllipticCurvePrivateKey, ca_key: ec.EllipticCurvePrivateKey,
           ca_name: x509.Name, usage: x509.ObjectIdentifier,
           san: list[x509.GeneralName]) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(ca_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def generate_lab_certs(directory: str | Path, addresses: list[str], names: list[str],
                       client_user: str) -> LabCerts:
    """Write a CA, a server cert valid for ``addresses``/``names``, and a client cert for ``client_user``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("auditor lab CA")
    now = dt.datetime.now(dt.timezone.utc)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    san: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    san += [x509.DNSName(n) for n in dict.fromkeys(["localhost", *names])]
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _issue("auditor lab WinRM", server_key, ca_key, ca_name, ExtendedKeyUsageOID.SERVER_AUTH, san)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _issue(client_user, client_key, ca_key, ca_name, ExtendedKeyUsageOID.CLIENT_AUTH, [])
    certs = LabCerts(out / "ca.pem", out / "server.pem", out / "server.key", out / "client.pem", out / "client.key")
    _write(certs.ca, ca.public_bytes(serialization.Encoding.PEM))
    _write(certs.server_cert, server.public_bytes(serialization.Encoding.PEM))
    _write(certs.server_key, _key_pem(server_key), private=True)
    _write(certs.client_cert, client.public_bytes(serialization.Encoding.PEM))
    _write(certs.client_key, _key_pem(client_key), private=True)
    return certs
