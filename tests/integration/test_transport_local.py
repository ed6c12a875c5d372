"""The ``local`` transport: real ``sh -s`` subprocesses on this machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditor.collectors.batch import BatchItem, build_sh_batch, new_nonce, split_batch_output
from auditor.inventory.connection import resolve_spec
from auditor.transports.base import ConnectionRequest, TransportTimeout, get_transport
from auditor.transports.local import LocalTransport
from tests.sshd_fixtures import UTF8_BYTES, UTF8_COMMAND

pytestmark = pytest.mark.integration


def local(**overrides: object) -> LocalTransport:
    request = ConnectionRequest(name="localhost", host="localhost", connection="local")
    for key, value in overrides.items():
        setattr(request, key, value)
    transport = get_transport(resolve_spec(request))
    assert isinstance(transport, LocalTransport)
    return transport


def process_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (gone, or a zombie waiting for its new parent to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def test_stdout_stderr_and_exit_code() -> None:
    async with local() as conn:
        result = await conn.run("echo out; echo err >&2; exit 3")
    assert (result.stdout, result.stderr, result.rc, result.truncated) == (b"out\n", b"err\n", 3, False)


async def test_batch_round_trip() -> None:
    items = [BatchItem("kernel", "uname -r"), BatchItem("missing", "nosuchcmd-xyz"), BatchItem("rc", "exit 4")]
    nonce = new_nonce()
    async with local() as conn:
        result = await conn.run(build_sh_batch(items, nonce))
    sections = split_batch_output(result.stdout, result.stderr, nonce, [i.name for i in items])
    assert sections["kernel"].complete and sections["kernel"].stdout.strip() == os.uname().release.encode()
    assert sections["missing"].rc == 127 and b"not found" in sections["missing"].stderr
    assert sections["rc"].rc == 4


async def test_utf8_and_invalid_bytes_survive() -> None:
    async with local() as conn:
        assert (await conn.run(UTF8_COMMAND)).stdout == UTF8_BYTES


async def test_output_bound_kills_the_flood() -> None:
    async with local(max_output=10000) as conn:
        result = await conn.run("yes")
    assert result.truncated and result.rc is None and result.stdout == b"y\n" * 5000


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    async with local() as conn:
        with pytest.raises(TransportTimeout, match="within 0.5s"):
            await conn.run(f"sleep 300 & echo $! > {pidfile}; wait", timeout=0.5)
    pid = int(pidfile.read_text())
    # SIGKILL to the group is delivered before killpg returns; the orphan may still await reaping.
    assert process_gone(pid)
