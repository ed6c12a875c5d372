"""Kerberos vs NTLM per WinRM host: the native engine's client CPU and wall per host, same lab, same run.

    .venv/bin/python -m bench.kerberos [--hosts 100] [--commands 3] [--rounds 3]

The lab (a real MIT KDC and WinRS listeners accepting both NTLM and Kerberos, HTTP with message
encryption) runs in a child process, so the figures are the client's alone. Per host: connect and
authenticate (NTLM: two round trips; Kerberos: one, plus the service ticket), open a shell, run
``--commands`` commands, close; every host at once. CPU is ``time.process_time`` of this process
(all threads: Kerberos' KDC exchanges run in worker threads). Kerberos pays one kinit per run (shown
apart) and one TGS exchange per host. Figures, not a test: numbers vary by machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

from auditor.inventory.connection import resolve_spec
from auditor.transports.base import ConnectionRequest, ConnectionSpec, get_transport

CHILD = r"""
import asyncio, json, sys
from auditor.lab.kerberos import LabRealm
from auditor.lab.winrs import WinrsFleet, WinrsHostConfig
async def main(n):
    realm = LabRealm().start()
    try:
        principal = realm.add_user("auditor", "Lab-Passw0rd!")
        names = [f"kb{i:04d}" for i in range(n)]
        keytabs = realm.add_services(names)
        hosts = [WinrsHostConfig(h, port=0, auth=frozenset({"ntlm", "kerberos"}), keytab=str(keytabs[h]),
                                 require_encryption=True) for h in names]
        async with WinrsFleet(hosts, network="127.93.0.0/16") as fleet:
            print(json.dumps({"principal": principal, "krb5_conf": str(realm.krb5_conf),
                              "hosts": [[e.name, e.address, e.port] for e in fleet.endpoints]}), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        realm.stop()
asyncio.run(main(int(sys.argv[1])))
"""


def spec(name: str, address: str, port: int, auth: str, lab: dict) -> ConnectionSpec:
    v = {"ansible_winrm_scheme": "http", "ansible_winrm_transport": auth, "auditor_krb5_config": lab["krb5_conf"]}
    user = lab["principal"] if auth == "kerberos" else "auditor"
    return resolve_spec(ConnectionRequest(name=name, host=address, connection="winrm", port=port, user=user,
                                          password="Lab-Passw0rd!", connect_timeout=30, command_timeout=60, vars=v))


async def one_host(s: ConnectionSpec, commands: int) -> None:
    async with get_transport(s) as t:
        for _ in range(commands):
            assert (await t.run("hostname")).rc == 0


async def fleet_round(lab: dict, auth: str, commands: int) -> tuple[float, float]:
    specs = [spec(n, a, p, auth, lab) for n, a, p in lab["hosts"]]
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one_host(s, commands) for s in specs))
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--commands", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(args.hosts)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        lab = json.loads(child.stdout.readline())
        from auditor.transports.winrm_options import resolved_winrm
        from auditor.transports.wsman import kerberos

        opts = resolved_winrm(spec(*lab["hosts"][0], "kerberos", lab)).kerberos
        assert opts is not None
        started = time.process_time(), time.perf_counter()
        kerberos.ticket_cache(opts)  # the run's one kinit, timed apart
        kinit = (time.process_time() - started[0]) * 1000, (time.perf_counter() - started[1]) * 1000
        print(f"kinit (once per run): {kinit[0]:.1f} ms CPU, {kinit[1]:.1f} ms wall")
        print(f"{'auth':<9} {'hosts':>5} {'CPU ms/host':>12} {'wall s (fleet)':>15}")
        for rnd in range(args.rounds):
            for auth in ("ntlm", "kerberos"):
                cpu, wall = asyncio.run(fleet_round(lab, auth, args.commands))
                print(f"{auth:<9} {args.hosts:>5} {cpu * 1000 / args.hosts:>12.2f} {wall:>15.3f}   (round {rnd + 1})")
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=30)


if __name__ == "__main__":
    main()
