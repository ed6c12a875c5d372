"""The transport floor in its own process: ``python -m bench.floor INVENTORY OUT.json``.

For every host: connect, run ONE command, read all its output, close — on auditor's own cheapest
transports, configured as auditor configures them, so "CPU vs floor" measures what auditor adds on
top of moving the bytes, not how slow some other client is:

- Windows: the native WS-Management engine (``auditor.transports.wsman``: h11 over asyncio
  streams, NTLM with message sealing) — open a shell, run the command (a long script goes on stdin
  exactly as the audit sends it), Receive until done, delete the shell, close the connection;
- edge nodes: asyncssh with the cipher preference of auditor's ssh transport (AES-GCM first),
  ``sh -s`` with the script on stdin, host keys checked against the inventory's known_hosts file
  as the audit does.

The command is the very batch script the audit sends to that kind of host (same bytes both ways).
Everything that is not per-host work (the inventory, the scripts, their encoding) is prepared
before the clock starts. A host that does not answer the script with its section markers counts as
failed: the floor must move the same bytes, not error replies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from bench.common import PLAYBOOKS, batch_end, raise_nofile


@dataclass
class Target:
    name: str
    platform: str
    connection: str
    host: str
    port: int
    user: str | None
    password: str | None
    known_hosts: Any = None          # asyncssh's known_hosts argument (ssh)
    endpoint: str = ""               # WinRM
    path: str = "/wsman"
    seal: bool = True


@dataclass
class Script:
    text: str
    nonce: str
    args: list[str]                  # powershell arguments (WinRM)
    stdin: bytes | None              # base64 script on stdin when too long for a command line (WinRM)


def prepare(inventory: str) -> tuple[list[Target], dict[str, Script]]:
    """(one target per host, platform -> the batch script the audit sends) — built before timing."""
    from auditor.collectors.batch import BatchItem, build_batch, new_nonce
    from auditor.inventory import load_inventory
    from auditor.inventory.connection import connection_request, host_platform, resolve_spec
    from auditor.playbook import load_playbooks
    from auditor.transports.known_hosts import lookup
    from auditor.transports.sshopts import ssh_settings
    from auditor.transports.winrm import encode_command
    from auditor.transports.winrm_options import resolved_winrm

    scripts: dict[str, Script] = {}
    for book in load_playbooks([str(p) for p in PLAYBOOKS]):
        for play in book.plays:
            for platform, collectors in play.gather.items():
                items = [BatchItem(c.name, c.body, c.timeout) for c in collectors if not c.opt_in]
                nonce = new_nonce()
                shell = "powershell" if platform == "windows" else "sh"
                text = build_batch(shell, items, nonce)
                args, stdin = encode_command(text) if shell == "powershell" else ([], None)
                scripts[platform] = Script(text, nonce, args, stdin)
    targets = []
    for host in load_inventory([inventory]).hosts.values():
        spec = resolve_spec(connection_request(host))  # as a run resolves it
        t = Target(host.name, host_platform(host.vars), spec.connection, spec.host, spec.port or 0, spec.user,
                   spec.secret_password())
        if spec.connection == "winrm":
            o = resolved_winrm(spec)
            if o.auth != "ntlm" or o.scheme != "http":
                raise SystemExit(f"{host.name}: the floor measures NTLM over HTTP (the lab's setting), not {o.auth}/{o.scheme}")
            t.port, t.endpoint, t.path = o.port, o.endpoint(spec.host), o.path
            t.seal = o.message_encryption != "never"
        else:
            s = ssh_settings(spec)
            t.port = s.port
            hit = lookup(s.known_hosts_file, s.host, s.port) if s.host_key_checking != "off" else None
            t.known_hosts = hit[0] if hit else None
        targets.append(t)
    return targets, scripts


async def _ssh(t: Target, script: Script) -> bytes:
    from auditor.transports.ssh import CIPHERS  # auditor's preference: AES-GCM first

    async with asyncssh.connect(t.host, t.port, username=t.user, password=t.password, client_keys=None,
                                known_hosts=t.known_hosts, config=None, agent_path=None,
                                encryption_algs=CIPHERS, gss_host=None) as conn:  # as auditor: no Kerberos unless asked
        res = await conn.run("sh -s", input=script.text.encode(), encoding=None, check=False)
        out = res.stdout or b""
        return out if isinstance(out, bytes) else out.encode()


async def _winrm(t: Target, script: Script) -> bytes:
    from auditor.transports.wsman.auth import NtlmAuthenticator
    from auditor.transports.wsman.client import WinrsClient
    from auditor.transports.wsman.http import HttpConnection

    client = WinrsClient(HttpConnection(t.host, t.port, None, max_body=16 * 1024 * 1024),
                         NtlmAuthenticator(t.user or "", t.password or "", t.host, t.seal), t.endpoint, t.path)
    try:
        shell = await client.open_shell()
        cid = await client.command(shell, "powershell", script.args, console_mode_stdin=script.stdin is None)
        if script.stdin is not None:
            await client.send(shell, cid, script.stdin + b"\r\n", end=True)
        out = bytearray()
        while True:
            o = await client.receive(shell, cid, 20)
            out += o.stdout
            if o.done:
                break
        await client.delete_shell(shell)
        return bytes(out)
    finally:
        await client.close()


async def measure(targets: list[Target], scripts: dict[str, Script], concurrency: int) -> dict[str, Any]:
    sem = asyncio.Semaphore(concurrency)
    ok, failed = 0, 0
    errors: dict[str, int] = {}

    async def one(t: Target) -> None:
        nonlocal ok, failed
        script = scripts[t.platform]
        async with sem:
            try:
                work = _winrm(t, script) if t.connection == "winrm" else _ssh(t, script)
                out = await asyncio.wait_for(work, 60)
                if batch_end(script.nonce) not in out:
                    raise ValueError("no section markers in the answer")
                ok += 1
            except Exception as exc:  # noqa: BLE001 - counted and reported: faulty lab hosts fail here too
                failed += 1
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    await asyncio.gather(*(one(t) for t in targets))
    return {"ok": ok, "failed": failed, "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("inventory")
    ap.add_argument("out")
    ap.add_argument("--forks", type=int, default=200)
    args = ap.parse_args()
    raise_nofile()
    targets, scripts = prepare(args.inventory)
    import auditor.transports.wsman.client  # noqa: F401 - imported before timing, as the audit's are
    import auditor.transports.ssh  # noqa: F401

    cpu0, t0 = time.process_time(), time.perf_counter()
    counts = asyncio.run(measure(targets, scripts, args.forks))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(args.out).write_text(json.dumps({"hosts": len(targets), "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                                          "rss_mb": round(rss, 1), **counts}, indent=2))


if __name__ == "__main__":
    main()
