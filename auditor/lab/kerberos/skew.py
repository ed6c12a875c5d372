"""A lab Windows host whose clock is wrong: its WinRS listener runs in a process of its own under
libfaketime (Debian's libfaketime), so everything in it sees the shifted time: its HTTP ``Date``
header, and its Kerberos acceptor, which then rejects tickets with a real "clock skew too great".

    host = SkewedHost(WinrsHostConfig("win07", address="127.0.1.7", auth=frozenset({"kerberos"}),
                                      keytab="/.../http-win07.keytab"), skew=900, krb5_conf=...)
    await host.start()      # -> host.port
    await host.stop()

The child is ``python -m auditor.lab.kerberos.skewed_child``: it reads its host as one JSON line on stdin,
prints ``port <n>`` once it listens, and stops when stdin closes (so it never outlives the lab).
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import sys
from dataclasses import dataclass

from auditor.lab.winrs.server import WinrsHostConfig

FAKETIME_GLOB = "/usr/lib/*/faketime/libfaketimeMT.so.1"


def faketime_library() -> str:
    found = sorted(glob.glob(FAKETIME_GLOB))
    if not found:
        raise RuntimeError("the skewed-clock fault needs libfaketime (apt-get install libfaketime; "
                           "scripts/setup.sh --test installs it)")
    return found[0]


@dataclass
class SkewedHost:
    config: WinrsHostConfig
    skew: float                 # seconds the host's clock is ahead (negative: behind)
    krb5_conf: str | None = None
    port: int = 0
    _proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 20.0) -> int:
        c = self.config
        env = {**os.environ, "LD_PRELOAD": faketime_library(), "FAKETIME": f"{self.skew:+.0f}",
               "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1"}
        if self.krb5_conf:
            env["KRB5_CONFIG"] = self.krb5_conf
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "auditor.lab.kerberos.skewed_child", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, env=env)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        spec = {"name": c.name, "address": c.address, "port": c.port if c.port is not None else c.default_port(),
                "user": c.user, "password": c.password, "auth": sorted(c.auth), "keytab": c.keytab}
        self._proc.stdin.write((json.dumps(spec) + "\n").encode())
        await self._proc.stdin.drain()
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(), timeout)
        except asyncio.TimeoutError:
            line = b""
        if not line.startswith(b"port "):
            await self.stop()
            raise RuntimeError(f"the skewed-clock host {c.name} did not start")
        self.port = int(line.split()[1])
        return self.port

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
