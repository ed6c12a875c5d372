"""The process of a skewed-clock lab host (see ``auditor.lab.kerberos.skew``): one WinRS host, started from
the JSON line on stdin, ``port <n>`` on stdout once it listens, stopped when stdin closes."""

from __future__ import annotations

import asyncio
import json
import sys

from auditor.lab.winrs.fleet import WinrsFleet
from auditor.lab.winrs.server import WinrsHostConfig


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    spec = json.loads(await reader.readline())
    config = WinrsHostConfig(spec["name"], address=spec["address"], port=spec["port"], user=spec["user"],
                             password=spec["password"], auth=frozenset(spec["auth"]), keytab=spec["keytab"])
    async with WinrsFleet([config], network=f"{spec['address']}/32") as fleet:
        print(f"port {fleet.endpoints[0].port}", flush=True)
        await reader.read()  # until the parent closes our stdin


if __name__ == "__main__":
    asyncio.run(_serve())
