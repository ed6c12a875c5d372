"""Kerberos for the simulated fleet: a real MIT KDC on loopback, keytabs for the WinRS hosts, and hosts
with a wrong clock (docs/lab.md, docs/winrm.md).

    kl = KerberosLab()
    principal = kl.start("auditor", "Lab-Passw0rd!")        # realm AUDITOR.LAB, user auditor@AUDITOR.LAB
    keytabs = kl.keytabs(["win01", "win02"], unknown={"win02"})  # win02: no HTTP/win02 in the KDC
    port = await kl.start_skewed(WinrsHostConfig("win03", ...), skew=900)
    kl.write_client_config("lab.krb5.conf")
    await kl.stop()
"""

from __future__ import annotations

from pathlib import Path

from auditor.lab.kerberos.realm import DEFAULT_REALM, LabRealm
from auditor.lab.kerberos.skew import SkewedHost
from auditor.lab.winrs.server import WinrsHostConfig

__all__ = ["DEFAULT_REALM", "KerberosLab", "LabRealm", "SkewedHost"]


class KerberosLab:
    """The realm (started here, or shared: ``realm=``) and the skewed-clock hosts of one lab fleet."""

    def __init__(self, realm: LabRealm | None = None):
        self.realm = realm
        self._own_realm = realm is None
        self.skewed: list[SkewedHost] = []

    def start(self, user: str, password: str) -> str:
        """Start the KDC (unless shared) and add the lab user; its principal."""
        if self.realm is None:
            self.realm = LabRealm().start()
        return self.realm.add_user(user, password)

    def keytabs(self, names: list[str], unknown: frozenset[str] | set[str] = frozenset()) -> dict[str, str | None]:
        """A keytab for HTTP/<name> of each host, None for the hosts whose SPN the KDC must not know."""
        assert self.realm is not None
        made = self.realm.add_services([n for n in names if n not in unknown])
        return {n: (str(made[n]) if n in made else None) for n in names}

    async def start_skewed(self, config: WinrsHostConfig, skew: float) -> int:
        assert self.realm is not None
        host = SkewedHost(config, skew, str(self.realm.krb5_conf))
        await host.start()
        self.skewed.append(host)
        return host.port

    def write_client_config(self, path: str | Path) -> Path:
        assert self.realm is not None
        return self.realm.write_client_config(path)

    async def stop(self) -> None:
        for host in self.skewed:
            await host.stop()
        self.skewed.clear()
        if self._own_realm and self.realm is not None:
            self.realm.stop()
            self.realm = None
