"""Commands per second through ONE reused WinRS shell vs pywinrm's Session.run_cmd (a shell and an
HTTP connection per call), against the lab WinRS server, Basic and NTLM (with encryption), same run.

    .venv/bin/python bench/winrm_shell_reuse.py [--seconds 3]

Prints one line per (auth, client) with commands/s and ms/command. Not a test: numbers vary by machine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import winrm

from auditor.lab.winrs import WinrsFleet, WinrsHostConfig
from auditor.inventory.connection import resolve_spec
from auditor.transports.base import ConnectionRequest, get_transport


def session_run_cmd(url: str, user: str, password: str, auth: str, seconds: float) -> int:
    s = winrm.Session(url, auth=(user, password), transport=auth)
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        assert s.run_cmd("hostname").status_code == 0
        n += 1
    return n


async def reused_shell(ep, auth: str, seconds: float) -> int:
    spec = resolve_spec(ConnectionRequest(
        name=ep.name, host=ep.address, connection="winrm", port=ep.port, user=ep.user, password=ep.password,
        vars={"ansible_winrm_transport": auth, "ansible_winrm_scheme": "http", "auditor_winrm_allow_basic_http": True}))
    n = 0
    async with get_transport(spec) as t:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            assert (await t.run("hostname")).rc == 0
            n += 1
    return n


def protocol_reused(url: str, user: str, password: str, auth: str, seconds: float) -> int:
    from winrm.protocol import Protocol

    p = Protocol(url, transport=auth, username=user, password=password)
    shell = p.open_shell()
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        cid = p.run_command(shell, "hostname")
        assert p.get_command_output(shell, cid)[2] == 0
        p.cleanup_command(shell, cid)
        n += 1
    p.close_shell(shell)
    return n


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    net = f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24"
    async with WinrsFleet([WinrsHostConfig("bench01")], network=net) as fleet:
        ep = fleet.endpoints[0]
        print(f"lab WinRS server at {ep.url}; {a.seconds:g} s per measurement")
        for auth in ("basic", "ntlm"):
            rows = [
                ("pywinrm Session.run_cmd (shell+connection per call)",
                 await asyncio.to_thread(session_run_cmd, ep.url, ep.user, ep.password, auth, a.seconds)),
                ("pywinrm Protocol, one reused shell (raw)",
                 await asyncio.to_thread(protocol_reused, ep.url, ep.user, ep.password, auth, a.seconds)),
                ("auditor winrm transport, one reused shell",
                 await reused_shell(ep, auth, a.seconds)),
            ]
            for label, n in rows:
                rate = n / a.seconds
                print(f"{auth:<5}  {label:<55} {rate:8.1f} cmd/s  {1000 / rate if rate else float('inf'):6.2f} ms/cmd")


if __name__ == "__main__":
    asyncio.run(main())
