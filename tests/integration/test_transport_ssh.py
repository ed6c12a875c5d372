"""The ``ssh`` (asyncssh) and ``paramiko`` transports against real servers: Debian's OpenSSH sshd
on loopback and the in-process lab fleet. Every test runs for both transports and, where the
server can play the part, both servers."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Callable

import asyncssh
import pytest

from auditor.collectors.batch import BatchItem, build_sh_batch, new_nonce, split_batch_output
from auditor.lab.sshd import SshLabFleet, SshLabHost, lab_address
from auditor.inventory.connection import resolve_spec
from auditor.transports.base import (
    AuthFailed,
    ConnectFailed,
    ConnectionRequest,
    ConnectionSpec,
    Transport,
    TransportError,
    TransportTimeout,
    get_transport,
)
from tests.sshd_fixtures import (
    TEST_USER,
    UTF8_BYTES,
    UTF8_COMMAND,
    SshTarget,
    TransportTestModel,
    lab_target,
    live_processes,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["ssh", "paramiko"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["lab", "openssh"])
def target(request: pytest.FixtureRequest, ssh_lab: SshLabFleet, openssh_target: SshTarget) -> SshTarget:
    return lab_target(ssh_lab) if request.param == "lab" else openssh_target


def make_spec(t: SshTarget, transport: str, tmp_path: Path, **overrides: object) -> ConnectionRequest:
    """What the inventory would say about the target (resolved into a ConnectionSpec when used)."""
    request = ConnectionRequest(
        name="target", host=t.host, connection=transport, port=t.port, user=t.user, password=t.password,
        private_key_file=t.key_file, known_hosts_file=str(tmp_path / "known_hosts"),
        connect_timeout=5.0, command_timeout=20.0,
    )
    for key, value in overrides.items():
        setattr(request, key, value)
    return request


async def run_once(request: ConnectionRequest, script: str, timeout: float | None = None):
    async with get_transport(resolve_spec(request)) as conn:
        return await conn.run(script, timeout=timeout)


async def test_exit_codes_stdout_and_stderr(target: SshTarget, transport: str, tmp_path: Path) -> None:
    async with get_transport(resolve_spec(make_spec(target, transport, tmp_path))) as conn:
        ok = await conn.run("echo hello")
        assert (ok.stdout, ok.rc, ok.truncated) == (b"hello\n", 0, False)
        missing = await conn.run("nosuchcmd-xyz")
        assert missing.rc == 127
        assert b"nosuchcmd-xyz: not found" in missing.stderr
        assert missing.stdout == b""
        assert (await conn.run("exit 3")).rc == 3


async def test_batch_round_trip(target: SshTarget, transport: str, tmp_path: Path) -> None:
    items = [BatchItem("kernel", "uname -r"), BatchItem("name", "hostname"),
             BatchItem("missing", "nosuchcmd-xyz"), BatchItem("osr", "cat /etc/os-release")]
    nonce = new_nonce()
    result = await run_once(make_spec(target, transport, tmp_path), build_sh_batch(items, nonce))
    sections = split_batch_output(result.stdout, result.stderr, nonce, [i.name for i in items])
    assert all(s.complete for s in sections.values()), sections
    assert sections["kernel"].rc == 0 and sections["kernel"].stdout.strip()
    assert sections["name"].stdout.decode().strip() == target.hostname
    assert sections["missing"].rc == 127 and b"not found" in sections["missing"].stderr
    assert b"ID=" in sections["osr"].stdout


async def test_utf8_and_invalid_bytes_survive(target: SshTarget, transport: str, tmp_path: Path) -> None:
    result = await run_once(make_spec(target, transport, tmp_path), UTF8_COMMAND)
    assert result.stdout == UTF8_BYTES


async def test_wrong_password_is_auth_failed(target: SshTarget, transport: str, tmp_path: Path) -> None:
    spec = make_spec(target, transport, tmp_path, password="not-the-password", private_key_file=None)
    with pytest.raises(AuthFailed):
        await run_once(spec, "echo never")


async def test_host_rejecting_everything_is_auth_failed(ssh_lab: SshLabFleet, transport: str, tmp_path: Path) -> None:
    with pytest.raises(AuthFailed, match="rejected the credentials"):
        await run_once(make_spec(lab_target(ssh_lab, "rejects"), transport, tmp_path), "echo never")


async def test_key_auth_on_the_lab(ssh_lab: SshLabFleet, transport: str, tmp_path: Path) -> None:
    key = ssh_lab.write_client_key(tmp_path / "id_lab")
    spec = make_spec(lab_target(ssh_lab), transport, tmp_path, password=None, private_key_file=str(key))
    assert (await run_once(spec, "hostname")).stdout == b"lab-ok\n"


async def test_closed_port_is_connect_failed(target: SshTarget, transport: str, tmp_path: Path) -> None:
    host, port = target.closed
    spec = make_spec(target, transport, tmp_path, host=host, port=port)
    with pytest.raises(ConnectFailed):
        await run_once(spec, "echo never")


async def test_silent_server_is_connect_timeout(ssh_lab: SshLabFleet, transport: str, tmp_path: Path) -> None:
    spec = make_spec(lab_target(ssh_lab, "silent"), transport, tmp_path, connect_timeout=0.5)
    with pytest.raises(TransportTimeout):
        await run_once(spec, "echo never")


async def test_hung_command_times_out_and_connection_stays_usable(
    target: SshTarget, ssh_lab: SshLabFleet, transport: str, tmp_path: Path
) -> None:
    # The lab's "hangs" host never answers; on OpenSSH a long sleep plays the part.
    t = lab_target(ssh_lab, "hangs") if target.kind == "lab" else target
    sleeper = f"sleep {random.randint(3000, 9999)}"
    script = "echo never" if target.kind == "lab" else sleeper
    async with get_transport(resolve_spec(make_spec(t, transport, tmp_path))) as conn:
        with pytest.raises(TransportTimeout, match="did not finish within 0.5s"):
            await conn.run(script, timeout=0.5)
        if target.kind == "openssh":  # the same connection runs the next script
            assert (await conn.run("echo after")).stdout == b"after\n"
    if target.kind == "openssh":  # and the host no longer runs the timed-out command
        assert await eventually(lambda: not live_processes(TEST_USER, sleeper)), live_processes(TEST_USER, sleeper)


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> bool:
    """Poll a condition on another process's state (sshd kills asynchronously; there is no event to await)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_output_bound_truncates(
    target: SshTarget, ssh_lab: SshLabFleet, transport: str, tmp_path: Path
) -> None:
    t = lab_target(ssh_lab, "floods") if target.kind == "lab" else target
    spec = make_spec(t, transport, tmp_path, max_output=65536)
    async with get_transport(resolve_spec(spec)) as conn:
        result = await conn.run("yes")  # never ends on either server
        assert result.truncated and result.rc is None
        assert len(result.stdout) == 65536 and result.stdout.startswith(b"y\n" if target.kind == "openssh" else b"yyy")
        if target.kind == "openssh":
            assert (await conn.run("echo after")).stdout == b"after\n"


async def test_accept_new_records_the_key_then_rejects_a_changed_one(
    target: SshTarget, transport: str, tmp_path: Path
) -> None:
    known = tmp_path / "fresh" / "known_hosts"  # the folder does not exist yet
    spec = make_spec(target, transport, tmp_path, known_hosts_file=str(known), host_key_checking="accept-new")
    assert (await run_once(spec, "echo first")).stdout == b"first\n"
    assert known.read_text().strip() == target.known_hosts_line
    spec.host_key_checking = "strict"  # now known: strict accepts it
    assert (await run_once(spec, "echo second")).stdout == b"second\n"

    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    name = target.known_hosts_line.split()[0]
    known.write_text(f"{name} {other}\n")
    for policy in ("accept-new", "strict"):
        spec.host_key_checking = policy
        with pytest.raises(ConnectFailed, match="host key mismatch"):
            await run_once(spec, "echo never")
    assert known.read_text() == f"{name} {other}\n"  # a changed key is never written over


async def test_strict_rejects_an_unknown_host(target: SshTarget, transport: str, tmp_path: Path) -> None:
    spec = make_spec(target, transport, tmp_path, host_key_checking="strict")
    with pytest.raises(ConnectFailed, match="unknown host key"):
        await run_once(spec, "echo never")
    assert not Path(spec.known_hosts_file or "").exists()


async def test_strict_accepts_a_pinned_key(target: SshTarget, transport: str, tmp_path: Path) -> None:
    known = tmp_path / "pinned"
    known.write_text(target.known_hosts_line + "\n")
    spec = make_spec(target, transport, tmp_path, known_hosts_file=str(known), host_key_checking="strict")
    assert (await run_once(spec, "echo pinned")).stdout == b"pinned\n"


async def test_off_accepts_any_key_and_writes_nothing(target: SshTarget, transport: str, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    name = target.known_hosts_line.split()[0]
    wrong = f"{name} {asyncssh.generate_private_key('ssh-ed25519').export_public_key().decode().strip()}\n"
    known.write_text(wrong)
    spec = make_spec(target, transport, tmp_path, known_hosts_file=str(known), host_key_checking="off")
    assert (await run_once(spec, "echo off")).stdout == b"off\n"
    assert known.read_text() == wrong


async def test_ssh_common_args_choose_policy_and_file(target: SshTarget, transport: str, tmp_path: Path) -> None:
    known = tmp_path / "from-args"
    known.write_text(target.known_hosts_line + "\n")
    spec = make_spec(target, transport, tmp_path, host_key_checking="accept-new", vars={
        "ansible_ssh_common_args": f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={known} -o ConnectTimeout=5"})
    assert (await run_once(spec, "echo args")).stdout == b"args\n"
    spec.vars = {"ansible_ssh_common_args": f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={tmp_path}/none"}
    with pytest.raises(ConnectFailed, match="unknown host key"):
        await run_once(spec, "echo never")


# --- lab-only behaviours ---------------------------------------------------------------------


async def test_one_connection_and_one_channel_per_script(ssh_lab: SshLabFleet, transport: str, tmp_path: Path) -> None:
    host = ssh_lab.host("ok")
    async with get_transport(resolve_spec(make_spec(lab_target(ssh_lab), transport, tmp_path))) as conn:
        for _ in range(3):
            assert (await conn.run("hostname")).rc == 0
    assert (host.connections, host.sessions) == (1, 3)


async def test_garbage_output_comes_back_as_bytes(ssh_lab: SshLabFleet, transport: str, tmp_path: Path) -> None:
    nonce = new_nonce()
    items = [BatchItem("kernel", "uname -r")]
    result = await run_once(make_spec(lab_target(ssh_lab, "garbage"), transport, tmp_path), build_sh_batch(items, nonce))
    assert len(result.stdout) == 4096 and not result.truncated
    assert not split_batch_output(result.stdout, result.stderr, nonce, ["kernel"])["kernel"].complete


async def test_broken_markers_leave_sections_incomplete(ssh_lab: SshLabFleet, transport: str, tmp_path: Path) -> None:
    nonce = new_nonce()
    items = [BatchItem(f"c{i}", "uname -r") for i in range(3)]
    result = await run_once(make_spec(lab_target(ssh_lab, "broken"), transport, tmp_path), build_sh_batch(items, nonce))
    sections = split_batch_output(result.stdout, result.stderr, nonce, [i.name for i in items])
    assert not any(s.complete for s in sections.values())


async def test_reset_mid_command_is_a_transport_error(ssh_lab: SshLabFleet, transport: str, tmp_path: Path) -> None:
    async with get_transport(resolve_spec(make_spec(lab_target(ssh_lab, "resets"), transport, tmp_path))) as conn:
        with pytest.raises(TransportError):
            await conn.run("echo never", timeout=5)


async def test_many_hosts_at_once(transport: str, tmp_path: Path) -> None:
    count = 100 if transport == "ssh" else 30
    hosts = [SshLabHost(f"h{i}", lab_address(i, "127.0.7"), TransportTestModel(hostname=f"h{i}"), port=0)
             for i in range(1, count + 1)]
    async with SshLabFleet(hosts, shared_host_key=True) as fleet:
        known = fleet.write_known_hosts(tmp_path / "known_hosts")

        async def one(h: SshLabHost) -> bytes:
            spec = resolve_spec(ConnectionRequest(h.name, h.address, transport, h.bound_port, fleet.user, fleet.password,
                                                  host_key_checking="strict", known_hosts_file=str(known)))
            conn: Transport = get_transport(spec)
            async with conn:
                return (await conn.run("hostname")).stdout

        outputs = await asyncio.gather(*(one(h) for h in hosts))
    assert outputs == [f"h{i}\n".encode() for i in range(1, count + 1)]



class BrokenModel(TransportTestModel):
    def run_command(self, command: str):  # type: ignore[override]
        raise RuntimeError("model bug")


async def test_a_failing_host_model_answers_like_a_crashed_shell(transport: str, tmp_path: Path) -> None:
    async with SshLabFleet([SshLabHost("bad", lab_address(1, "127.0.7"), BrokenModel(), port=0)]) as fleet:
        spec = make_spec(lab_target_of(fleet, "bad"), transport, tmp_path)
        result = await run_once(spec, "hostname")
    assert result.rc == 255 and b"host model failed: RuntimeError: model bug" in result.stderr


def lab_target_of(fleet: SshLabFleet, name: str) -> SshTarget:
    host = fleet.host(name)
    return SshTarget("lab", host.address, host.bound_port, fleet.user, name, host.known_hosts_line, fleet.password)


async def test_asyncssh_prefers_aes_gcm(target: SshTarget, tmp_path: Path) -> None:
    """The cheaper AEAD is negotiated with both OpenSSH and the asyncssh lab (chacha20 stays on offer)."""
    async with get_transport(resolve_spec(make_spec(target, "ssh", tmp_path))) as conn:
        assert (await conn.run("echo hi")).rc == 0
        assert conn._conn.get_extra_info("send_cipher") == "aes128-gcm@openssh.com"  # type: ignore[attr-defined]
