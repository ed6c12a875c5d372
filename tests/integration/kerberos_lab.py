"""One real MIT KDC for the whole test session (krb5-kdc via k5test, on loopback), and its krb5.conf.

MIT krb5 reads KRB5_CONFIG per process, so every Kerberos test in this process uses this one file. Besides
the live realm it names DEAD.LAB, whose KDC port is closed (KDC unreachable), and maps the host name
``mismatch01`` to OTHER.LAB, which AUDITOR.LAB has no trust with (realm/DNS mismatch).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from auditor.lab.kerberos import LabRealm
from auditor.transports.wsman import kerberos

USER, PASSWORD = "auditor", "Lab-Passw0rd!"


@dataclass
class Kdc:
    realm: LabRealm
    principal: str
    krb5_conf: Path

    def keytabs(self, *hosts: str) -> dict[str, str]:
        return {h: str(p) for h, p in self.realm.add_services(list(hosts)).items()}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once this socket closes


@pytest.fixture(scope="session")
def kdc(tmp_path_factory) -> Kdc:
    realm = LabRealm().start()
    try:
        principal = realm.add_user(USER, PASSWORD)
        conf = tmp_path_factory.mktemp("krb5") / "krb5.conf"
        text = realm.krb5_conf.read_text()
        text = text.replace("[realms]\n", f"[realms]\n\tDEAD.LAB = {{\n\t\tkdc = 127.0.0.1:{_closed_port()}\n\t}}\n")
        text += "[domain_realm]\n\tmismatch01 = OTHER.LAB\n"
        conf.write_text(text)
        kerberos.forget_tickets()
        yield Kdc(realm, principal, conf)
    finally:
        kerberos.forget_tickets()
        realm.stop()
