"""The bare transport floor in its own process: ``python -m bench.floor INVENTORY OUT.json``.

For every host: connect, run ONE command, read all its output, close. Plain asyncssh for SSH hosts,
pywinrm's ``Protocol`` on one shell for WinRM hosts (in a thread pool, as a careful hand-written
script would do it). No auditor code runs in the timed part: the inventory is read and the command
text built before the clock starts. The command is the very batch script the audit sends to that
kind of host, so both sides move the same bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncssh
from winrm.protocol import Protocol

from bench.common import PLAYBOOKS, raise_nofile


def _targets(inventory: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """(one plain dict per host, platform -> batch script) — prepared before timing."""
    from auditor.collectors.batch import BatchItem, build_batch, new_nonce
    from auditor.inventory import load_inventory
    from auditor.inventory.connection import connection_spec, host_platform
    from auditor.playbook import load_playbooks
    from auditor.transports.winrm_options import winrm_options

    scripts: dict[str, str] = {}
    for book in load_playbooks([str(p) for p in PLAYBOOKS]):
        for play in book.plays:
            for platform, collectors in play.gather.items():
                items = [BatchItem(c.name, c.body, c.timeout) for c in collectors if not c.opt_in]
                scripts[platform] = build_batch("powershell" if platform == "windows" else "sh", items, new_nonce())
    hosts = []
    for host in load_inventory([inventory]).hosts.values():
        spec = connection_spec(host)
        t: dict[str, Any] = {"name": host.name, "platform": host_platform(host.vars), "host": spec.host,
                             "port": spec.port, "user": spec.user, "password": spec.password,
                             "key": spec.private_key_file, "connection": spec.connection}
        if spec.connection == "winrm":
            o = winrm_options(spec)
            t.update(endpoint=o.endpoint(spec.host), auth=o.auth)
        hosts.append(t)
    return hosts, scripts


async def _ssh(t: dict[str, Any], script: str) -> int:
    async with asyncssh.connect(t["host"], t["port"] or 22, username=t["user"], password=t["password"],
                                client_keys=[t["key"]] if t["key"] else None, known_hosts=None,
                                config=None, agent_path=None) as conn:
        res = await conn.run("sh -s", input=script.encode(), encoding=None, check=False)
        return len(res.stdout or b"")


def _winrm(t: dict[str, Any], script: str) -> int:
    proto = Protocol(endpoint=t["endpoint"], transport=t["auth"], username=t["user"], password=t["password"],
                     server_cert_validation="ignore", message_encryption="auto")
    shell = proto.open_shell(codepage=65001, noprofile=True)
    try:
        encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
        if len(encoded) < 8000:
            cmd = proto.run_command(shell, "powershell", ["-NoProfile", "-NonInteractive", "-EncodedCommand", encoded])
            out, _, _ = proto.get_command_output(shell, cmd)
        else:  # too long for a command line: the script goes on stdin (as the audit does)
            boot = base64.b64encode(
                b"$s = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String((@($input) -join '').Trim())); "
                b"& ([ScriptBlock]::Create($s))".decode().encode("utf-16-le")).decode("ascii")
            cmd = proto.run_command(shell, "powershell", ["-NoProfile", "-NonInteractive", "-EncodedCommand", boot],
                                    console_mode_stdin=False)
            proto.send_command_input(shell, cmd, base64.b64encode(script.encode()) + b"\r\n", end=True)
            out, _, _ = proto.get_command_output(shell, cmd)
        return len(out)
    finally:
        proto.close_shell(shell)


async def measure(hosts: list[dict[str, Any]], scripts: dict[str, str], concurrency: int, threads: int) -> dict[str, Any]:
    sem = asyncio.Semaphore(concurrency)
    pool = ThreadPoolExecutor(max_workers=threads)
    loop = asyncio.get_running_loop()
    ok, failed, errors = 0, 0, {}

    async def one(t: dict[str, Any]) -> None:
        nonlocal ok, failed
        async with sem:
            script = scripts.get(t["platform"], "")
            try:
                if t["connection"] == "winrm":
                    await asyncio.wait_for(loop.run_in_executor(pool, _winrm, t, script), 60)
                else:
                    await asyncio.wait_for(_ssh(t, script), 60)
                ok += 1
            except Exception as exc:  # noqa: BLE001 - counted: faulty lab hosts fail here too
                failed += 1
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    await asyncio.gather(*(one(t) for t in hosts))
    pool.shutdown(wait=False)
    return {"ok": ok, "failed": failed, "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("inventory")
    ap.add_argument("out")
    ap.add_argument("--forks", type=int, default=200)
    ap.add_argument("--threads", type=int, default=64)
    args = ap.parse_args()
    raise_nofile()
    hosts, scripts = _targets(args.inventory)
    cpu0, t0 = time.process_time(), time.perf_counter()
    counts = asyncio.run(measure(hosts, scripts, args.forks, args.threads))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(args.out).write_text(json.dumps({"hosts": len(hosts), "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                                          "rss_mb": round(rss, 1), **counts}, indent=2))


if __name__ == "__main__":
    main()
