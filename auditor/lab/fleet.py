"""A mixed simulated fleet: Windows hosts over WinRS (HTTP, NTLM with message encryption) and edge nodes
over SSH, started from scenarios, with an Ansible YAML inventory written once every host listens.

    fleet = LabFleet(generate_fleet(load_library(), 50, seed=1), ports="free")
    with fleet.running():                 # in a background thread with its own event loop
        fleet.write_inventory("lab.yml")  # + lab.known_hosts next to it (SSH host keys, strict checking)
        ...                               # audit it (execute_audit runs its own loop in this thread)

Addresses (auditor/lab/addressing.py): Windows host N listens on the N-th address of 127.1.0.1 onwards,
edge node N on the N-th of 127.64.0.1 onwards; the blocks never overlap. ``ports="standard"`` uses 5985
and 22 like a real fleet, ``ports="free"`` lets the OS pick (tests, demo). ``shard=(i, k)`` serves only
every k-th member from the i-th, at the addresses they have in the whole fleet: a fleet too large for
one process's open-file limit is served by k processes (auditor/lab/spread.py).
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from auditor.lab.addressing import assign_addresses
from auditor.lab.generator import FleetMember
from auditor.lab.kerberos import KerberosLab, LabRealm
from auditor.lab.models.edge import EdgeHostModel
from auditor.lab.models.from_scenario import edge_model, windows_model
from auditor.lab.models.windows import MirroredWindowsModel
from auditor.lab.sshd import SshFaults, SshLabFleet, SshLabHost
from auditor.lab.winrs import Faults, WinrsFleet, WinrsHostConfig

LAB_USER = "auditor"
LAB_PASSWORD = "Lab-Passw0rd!"  # a lab-only secret; the inventory (mode 0600) carries it
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter: 20,000 hosts in a second, not ten


@dataclass
class LabHost:
    member: FleetMember
    address: str
    model: MirroredWindowsModel | EdgeHostModel
    port: int = 0
    extra_faults: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.member.name

    @property
    def platform(self) -> str:
        return self.member.scenario.platform


def _faults(host: LabHost) -> dict[str, Any]:
    f = host.member.scenario.faults.model_dump()
    f.update(host.extra_faults)
    return f



def settle_for_serving() -> None:
    """In a process that only serves the lab, once its hosts listen: their models, servers and sockets live until
    the lab stops, so they leave the collector's generations. With thousands of hosts in one process every full
    collection walked them all, stalling every host it serves (measured at 20,000 hosts in two processes: the
    lab's CPU 98 -> 84 s, and the audit it served 138 -> 116 s). Not for a process that goes on doing other
    work (a test run): frozen objects are never collected."""
    gc.collect()
    gc.freeze()

class LabFleet:
    """Start/stop the servers for a list of fleet members; one object, both protocols."""

    def __init__(self, members: list[FleetMember], *, ports: str = "free", user: str = LAB_USER,
                 password: str = LAB_PASSWORD, faults: dict[str, dict[str, Any]] | None = None,
                 kerberos: bool = False, realm: LabRealm | None = None, shard: tuple[int, int] = (0, 1)):
        if ports not in ("free", "standard"):
            raise ValueError("ports must be 'free' or 'standard'")
        index, count = shard
        if not 0 <= index < count:
            raise ValueError(f"shard {index} of {count} does not exist")
        self.ports, self.user, self.password = ports, user, password
        # Kerberos: the Windows hosts accept Negotiate/Kerberos only, with tickets from a lab KDC
        self.kerberos: KerberosLab | None = KerberosLab(realm) if kerberos else None
        self.principal: str | None = None
        self.hosts: list[LabHost] = []
        addresses = assign_addresses([m.scenario.platform for m in members])
        for m, addr in list(zip(members, addresses))[index::count]:
            if m.scenario.platform == "windows":
                model: MirroredWindowsModel | EdgeHostModel = windows_model(m.scenario, m.name, user)
            else:
                model = edge_model(m.scenario, m.name)
            self.hosts.append(LabHost(m, addr, model, extra_faults=dict((faults or {}).get(m.name, {}))))
        self._by_name = {h.name: h for h in self.hosts}
        self.winrs: WinrsFleet | None = None
        self.sshd: SshLabFleet | None = None
        self._held: list[socket.socket] = []

    def host(self, name: str) -> LabHost:
        return self._by_name[name]

    # --- lifecycle (async, on the loop that serves) ------------------------------------------

    async def start(self) -> None:
        try:
            await self._start_windows()
            await self._start_edge()
        except BaseException:
            await self.stop()
            raise

    async def _start_windows(self) -> None:
        configs = []
        windows = [x for x in self.hosts if x.platform == "windows"]
        keytabs: dict[str, str | None] = {}
        if self.kerberos is not None and windows:
            self.principal = self.kerberos.start(self.user, self.password)
            keytabs = self.kerberos.keytabs([h.name for h in windows],
                                            unknown={h.name for h in windows if _faults(h).get("unknown_spn")})
        for h in windows:
            f = _faults(h)
            port: int | None = 0 if self.ports == "free" else None
            if f["refused"]:  # hold the port bound but not listening: connections are refused, no race
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind((h.address, 0 if self.ports == "free" else 5985))
                self._held.append(sock)
                port = sock.getsockname()[1]
            faults = Faults(wrong_password=f["wrong_password"], refused=f["refused"], slow=f["slow"], hang=f["hang"],
                            reset=f["reset"], hostile=f.get("hostile"))
            auth = frozenset({"kerberos"}) if self.kerberos is not None else frozenset({"ntlm", "basic"})
            config = WinrsHostConfig(h.name, address=h.address, port=port, scheme="http", user=self.user,
                                     password=self.password, auth=auth, model=h.model,  # type: ignore[arg-type]
                                     faults=faults, keytab=keytabs.get(h.name))
            if self.kerberos is not None and f.get("skew") and not f["refused"]:
                h.port = await self.kerberos.start_skewed(config, float(f["skew"]))  # its own process
                continue
            configs.append(config)
        if not configs:
            return
        self.winrs = WinrsFleet(configs)
        await self.winrs.start()
        by_name = {s.config.name: s for s in self.winrs.servers}
        for h in self.hosts:
            if h.name in by_name:
                h.port = by_name[h.name].port

    async def _start_edge(self) -> None:
        hosts = []
        for h in (x for x in self.hosts if x.platform == "edge"):
            f = _faults(h)
            hosts.append(SshLabHost(h.name, h.address, h.model,  # type: ignore[arg-type]
                                    SshFaults(reject_auth=f["wrong_password"], closed=f["refused"], delay=f["slow"],
                                              hang=f["hang"], reset="command" if f["reset"] else None,
                                              hostile=f.get("hostile"))))
        if not hosts:
            return
        self.sshd = SshLabFleet(hosts, port=0 if self.ports == "free" else 22, user=self.user, password=self.password)
        await self.sshd.start()
        for lab in self.sshd.hosts:
            self.host(lab.name).port = lab.bound_port

    async def stop(self) -> None:
        if self.winrs is not None:
            await self.winrs.stop()
            self.winrs = None
        if self.kerberos is not None:
            await self.kerberos.stop()
        if self.sshd is not None:
            await self.sshd.stop()
            self.sshd = None
        for sock in self._held:
            sock.close()
        self._held = []

    # --- inventory -----------------------------------------------------------------------------

    def entries(self) -> list[InventoryEntry]:
        stale = self.kerberos is not None  # with Kerberos, a wrong-password host gets a stale password in the inventory
        return [InventoryEntry(h.name, h.platform, h.address, h.port, h.member.scenario.name,
                               stale_password=stale and h.platform == "windows" and bool(_faults(h)["wrong_password"]))
                for h in self.hosts]

    def inventory(self, known_hosts: str, krb5_conf: str | None = None) -> dict[str, Any]:
        """An Ansible YAML inventory: groups ``windows`` and ``edge`` (what the shipped playbooks target)."""
        return fleet_inventory(self.entries(), known_hosts, self.user, self.password, self._kerberos_vars(krb5_conf))

    def _kerberos_vars(self, krb5_conf: str | None) -> dict[str, Any] | None:
        if self.kerberos is None:
            return None  # the SPN comes from the inventory name; TCP goes to ansible_host
        return {"ansible_winrm_transport": "kerberos", "ansible_user": self.principal,
                "ansible_winrm_kinit_mode": "managed", "auditor_krb5_config": krb5_conf}

    def known_hosts_lines(self) -> list[str]:
        return self.sshd.known_hosts_lines() if self.sshd is not None else []

    def write_inventory(self, path: str | Path) -> tuple[Path, Path]:
        """Write the inventory (mode 0600: it holds the lab password) and ``<name>.known_hosts`` beside it
        (and, with Kerberos, ``<name>.krb5.conf``)."""
        out = Path(path)
        krb5_conf = None
        if self.kerberos is not None and self.kerberos.realm is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            krb5_conf = str(self.kerberos.write_client_config(out.with_name(out.name.rsplit(".", 1)[0] + ".krb5.conf")))
        return write_fleet_inventory(path, self.entries(), self.known_hosts_lines(), self.user, self.password,
                                     self._kerberos_vars(krb5_conf))

    # --- running in a background thread --------------------------------------------------------

    @contextmanager
    def running(self, stop_timeout: float = 20.0) -> Iterator["LabFleet"]:
        """Serve from a background thread (own event loop) for the duration of the block."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=serve, name="lab-fleet", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            thread.join()
            loop.close()
            raise failure[0]
        try:
            yield self
        finally:
            try:
                asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=stop_timeout)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=stop_timeout)
                if not thread.is_alive():
                    loop.close()


# --- inventories (also of fleets served by several processes) -----------------------------------


@dataclass(frozen=True)
class InventoryEntry:
    name: str
    platform: str
    address: str
    port: int
    scenario: str
    stale_password: bool = False  # Kerberos lab: the inventory carries a wrong password for this host


def fleet_inventory(entries: list[InventoryEntry], known_hosts: str, user: str = LAB_USER,
                    password: str = LAB_PASSWORD, kerberos: dict[str, Any] | None = None) -> dict[str, Any]:
    """An Ansible YAML inventory: groups ``windows`` and ``edge`` (what the shipped playbooks target)."""
    win: dict[str, Any] = {}
    edge: dict[str, Any] = {}
    for e in entries:
        entry: dict[str, Any] = {"ansible_host": e.address, "ansible_port": e.port, "lab_scenario": e.scenario}
        if e.stale_password:
            entry["ansible_password"] = password + "-stale"  # the KDC has the account's real one
        (win if e.platform == "windows" else edge)[e.name] = entry
    children: dict[str, Any] = {}
    if win:
        children["windows"] = {"hosts": win, "vars": {
            "ansible_connection": "winrm", "ansible_winrm_scheme": "http", "ansible_winrm_transport": "ntlm",
            "ansible_winrm_message_encryption": "auto", "ansible_user": user, "ansible_password": password}}
        if kerberos:
            children["windows"]["vars"].update(kerberos)
    if edge:
        children["edge"] = {"hosts": edge, "vars": {
            "ansible_connection": "ssh", "ansible_user": user, "ansible_password": password,
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"}}
    return {"all": {"children": children}}


def write_fleet_inventory(path: str | Path, entries: list[InventoryEntry], known_hosts_lines: list[str],
                          user: str = LAB_USER, password: str = LAB_PASSWORD,
                          kerberos: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write the inventory (mode 0600: it holds the lab password) and ``<name>.known_hosts`` beside it.
    The inventory names the known_hosts file as given (relative paths resolve from the working folder)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    known = out.with_name(out.name.rsplit(".", 1)[0] + ".known_hosts")
    known.write_text("".join(line + "\n" for line in known_hosts_lines), encoding="utf-8")
    header = ("# Written by `auditor lab serve`: a simulated fleet on loopback (docs/lab.md).\n"
              "# The password is the lab's own; SSH host keys are pinned in the known_hosts file named below.\n")
    text = header + yaml.dump(fleet_inventory(entries, str(known), user, password, kerberos), Dumper=_Dumper, sort_keys=False)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return out, known
