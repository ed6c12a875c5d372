"""A throw-away MIT Kerberos realm on loopback: a real KDC (Debian's krb5-kdc, driven by k5test).

    realm = LabRealm("AUDITOR.LAB")
    realm.start()                               # kdb5_util create, krb5kdc on 127.0.0.1:<free port>
    realm.add_user("auditor", "Lab-Passw0rd!")  # -> "auditor@AUDITOR.LAB" (pre-authentication required, as in AD)
    keytab = realm.add_service("win01")         # HTTP/win01@AUDITOR.LAB, its key in a keytab of its own
    realm.write_client_config("lab.krb5.conf")  # what clients use (KRB5_CONFIG / auditor_krb5_config)
    realm.stop()                                # KDC stopped, database and keytabs deleted

The KDC listens on one loopback port only. Client configs say ``rdns = false`` and
``dns_canonicalize_hostname = false`` and look nothing up in DNS: the service principal is built from
the name the client was given, while the TCP connection goes to a loopback address (no /etc/hosts).
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from k5test.realm import MITRealm

DEFAULT_REALM = "AUDITOR.LAB"


class _LoopbackRealm(MITRealm):
    """k5test's MIT realm, never asking DNS for this machine's name (it writes it into unused settings)."""

    @property
    def hostname(self) -> str:
        return "localhost"


def client_config(realm: str, kdc: str) -> str:
    """A krb5.conf naming one realm and its KDC, with every DNS lookup off."""
    return (
        "# Written by auditor's lab (auditor/lab/kerberos): a throw-away realm on loopback.\n"
        "[libdefaults]\n"
        f"\tdefault_realm = {realm}\n"
        "\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n"
        "\trdns = false\n\tdns_canonicalize_hostname = false\n"
        "\tudp_preference_limit = 1\n"       # TCP: one loopback listener, no UDP retries to wait out
        "\tforwardable = true\n"
        "[realms]\n"
        f"\t{realm} = {{\n\t\tkdc = {kdc}\n\t}}\n"
    )


class LabRealm:
    """Start/stop a KDC and add principals; ``krb5_conf`` is the client config while it runs."""

    def __init__(self, realm: str = DEFAULT_REALM, address: str = "127.0.0.1"):
        self.realm, self.address = realm, address
        self.port = 0
        self._k5: _LoopbackRealm | None = None
        self.workdir: Path | None = None
        self.users: dict[str, str] = {}   # name -> principal (a shared realm is asked for the same user again)

    @property
    def kdc(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def krb5_conf(self) -> Path:
        assert self.workdir is not None, "start() the realm first"
        return self.workdir / "client.krb5.conf"

    def start(self) -> "LabRealm":
        self.port = _free_port(self.address)
        listen = f"{self.address}:{self.port}"
        self._k5 = _LoopbackRealm(
            realm=self.realm, portbase=self.port, create_user=False, create_host=False, get_creds=False,
            krb5_conf={"libdefaults": {"rdns": "false", "dns_canonicalize_hostname": "false",
                                       "dns_lookup_realm": "false", "udp_preference_limit": "1"},
                       "realms": {"$realm": {"kdc": listen}}},
            kdc_conf={"realms": {"$realm": {"kdc_listen": listen, "kdc_tcp_listen": listen}}},
        )
        self.workdir = Path(self._k5.tmpdir)
        self.write_client_config(self.krb5_conf)
        return self

    def _kadmin(self, query: str) -> None:
        assert self._k5 is not None, "start() the realm first"
        self._k5.run_kadminl(query)

    def add_user(self, name: str, password: str) -> str:
        """A user principal that needs pre-authentication (so a wrong password is the KDC's "preauth failed")."""
        principal = f"{name}@{self.realm}"
        if name in self.users:
            return principal
        if '"' in password or "\n" in password:
            raise ValueError("lab passwords cannot hold double quotes or newlines")
        # kadmin's own command parser takes a double-quoted argument (shell quoting would be kept literally)
        self._kadmin(f'addprinc +requires_preauth -pw "{password}" {principal}')
        self.users[name] = principal
        return principal

    def add_service(self, host: str, service: str = "HTTP") -> Path:
        """``<service>/<host>`` with a random key, exported to a keytab of its own (mode 0600)."""
        return self.add_services([host], service)[host]

    def add_services(self, hosts: list[str], service: str = "HTTP") -> dict[str, Path]:
        """``add_service`` for many hosts in one kadmin.local run (one process, not two per host)."""
        assert self._k5 is not None and self.workdir is not None, "start() the realm first"
        keytabs, commands = {}, []
        for host in hosts:
            if not host or any(c.isspace() or c in "\"@/" for c in host):
                raise ValueError(f"not a usable host name for a service principal: {host!r}")
            principal = f"{service}/{host}@{self.realm}"
            keytabs[host] = self.workdir / f"{service.lower()}-{host}.keytab"
            commands += [f"addprinc -randkey {principal}", f"ktadd -k {keytabs[host]} -norandkey {principal}"]
        if commands:
            self._k5.run([self._k5.kadmin_local], input="\n".join(commands) + "\n")
        for keytab in keytabs.values():
            if not keytab.is_file():
                raise RuntimeError(f"kadmin.local wrote no keytab {keytab}")
            os.chmod(keytab, 0o600)
        return keytabs

    def write_client_config(self, path: str | Path) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(client_config(self.realm, self.kdc), encoding="utf-8")
        return out

    def stop(self) -> None:
        k5, self._k5 = self._k5, None
        if k5 is not None:
            try:
                k5.stop()  # stops the KDC, removes its directory
            finally:
                if self.workdir is not None:
                    shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "LabRealm":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])
