"""Many simulated Windows hosts in one process, each on its own loopback address.

    async with WinrsFleet([WinrsHostConfig("win01"), WinrsHostConfig("win02", scheme="https")]) as fleet:
        for ep in fleet.endpoints: print(ep.address, ep.port, ep.scheme)
        fleet.write_inventory("lab.yml")

127.0.0.0/8 is all loopback on Linux, so host N listens on <network>.N on the standard port
(5985/5986) and inventories look like real ones.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import ssl
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from auditor.lab.winrs.auth import write_ntlm_user_file
from auditor.lab.winrs.certs import LabCerts, generate_lab_certs
from auditor.lab.winrs.server import WinrsHostConfig, WinrsHostServer

DEFAULT_NETWORK = "127.0.1.0/24"


@dataclass(frozen=True)
class WinrsEndpoint:
    """Where a started host listens and how to log in (what an inventory needs)."""

    name: str
    address: str
    port: int
    scheme: str
    user: str
    password: str
    auth: frozenset[str]
    ca_path: str | None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}:{self.port}/wsman"


class WinrsFleet:
    """Start and stop a set of simulated hosts; ``endpoints`` is valid once started."""

    def __init__(self, hosts: list[WinrsHostConfig], network: str = DEFAULT_NETWORK,
                 workdir: str | Path | None = None, threads: int = 32):
        net = ipaddress.ip_network(network)
        if not net.is_loopback:
            raise ValueError(f"lab network {network} must be inside 127.0.0.0/8")
        addrs = net.hosts()
        self.hosts = [h if h.address else replace(h, address=str(next(addrs))) for h in hosts]
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="auditor-winrs-"))
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="winrs-model")
        self.servers: list[WinrsHostServer] = []
        self.certs: LabCerts | None = None

    async def start(self) -> list[WinrsEndpoint]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ssl_ctx, cbt = None, None
        if any(h.scheme == "https" for h in self.hosts):
            self.certs = generate_lab_certs(self.workdir / "tls", [h.address for h in self.hosts],
                                            [h.name for h in self.hosts], self.hosts[0].user)
            ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_ctx.load_cert_chain(self.certs.server_cert, self.certs.server_key)
            ssl_ctx.load_verify_locations(self.certs.ca)
            ssl_ctx.verify_mode = ssl.CERT_OPTIONAL  # a client certificate is one way to log in
            cbt = _channel_binding(self.certs.server_cert)
        try:
            for i, host in enumerate(self.hosts):
                user_file = None
                if host.auth & {"ntlm", "credssp"}:
                    user_file = str(self.workdir / f"ntlm-{i}.users")
                    pw = host.password + ("-rotated" if host.faults.wrong_password else "")
                    write_ntlm_user_file(user_file, host.user, pw, [host.name.upper(), "WORKGROUP", "."])
                https = host.scheme == "https"
                server = WinrsHostServer(host, self._executor, user_file, ssl_ctx if https else None,
                                         cbt if https else None)
                await server.start()
                self.servers.append(server)
        except BaseException:
            await self.stop()
            raise
        return self.endpoints

    @property
    def endpoints(self) -> list[WinrsEndpoint]:
        ca = str(self.certs.ca) if self.certs else None
        return [WinrsEndpoint(s.config.name, s.config.address, s.port, s.config.scheme, s.config.user,
                              s.config.password, s.config.auth, ca if s.config.scheme == "https" else None)
                for s in self.servers]

    async def stop(self) -> None:
        for server in self.servers:
            await server.stop()
        self.servers.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def __aenter__(self) -> "WinrsFleet":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- inventory --------------------------------------------------------------------------

    def inventory(self, group: str = "windows", transport: str | None = None) -> dict[str, Any]:
        """An Ansible YAML inventory (as a dict) with everything a client needs to connect."""
        hosts: dict[str, dict[str, Any]] = {}
        for ep in self.endpoints:
            method = transport or ("ntlm" if "ntlm" in ep.auth else "basic")
            hv: dict[str, Any] = {
                "ansible_host": ep.address, "ansible_port": ep.port, "ansible_connection": "winrm",
                "ansible_user": ep.user, "ansible_password": ep.password,
                "ansible_winrm_scheme": ep.scheme, "ansible_winrm_transport": method,
            }
            if ep.ca_path:
                hv["ansible_winrm_ca_trust_path"] = ep.ca_path
            if method == "basic" and ep.scheme == "http":
                hv["auditor_winrm_allow_basic_http"] = True
            if method == "certificate" and self.certs:
                hv["ansible_winrm_cert_pem"] = str(self.certs.client_cert)
                hv["ansible_winrm_cert_key_pem"] = str(self.certs.client_key)
            hosts[ep.name] = hv
        return {"all": {"children": {group: {"hosts": hosts}}}}

    def write_inventory(self, path: str | Path, group: str = "windows", transport: str | None = None) -> Path:
        """Write ``inventory()`` as YAML (mode 0600: it holds the lab's password)."""
        out = Path(path)
        text = yaml.safe_dump(self.inventory(group, transport), sort_keys=False)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return out


def _channel_binding(cert_pem: Path) -> bytes:
    """The listener's RFC 5929 tls-server-end-point binding, as clients compute it (Kerberos checks it)."""
    from auditor.transports.wsman.auth import channel_bindings

    der = ssl.PEM_cert_to_DER_cert(cert_pem.read_text())
    bindings = channel_bindings(der)
    assert bindings is not None and bindings.application_data is not None
    return bindings.application_data


async def start_winrs_fleet(hosts: list[WinrsHostConfig], network: str = DEFAULT_NETWORK,
                            workdir: str | Path | None = None) -> WinrsFleet:
    """Start a fleet and return it (call ``await fleet.stop()`` when done)."""
    fleet = WinrsFleet(hosts, network, workdir)
    await fleet.start()
    return fleet


def lab_hosts(count: int, prefix: str = "win", **config: Any) -> list[WinrsHostConfig]:
    """``count`` default host configs named win01, win02, ... sharing ``config``."""
    return [WinrsHostConfig(f"{prefix}{i:02d}", **config) for i in range(1, count + 1)]
