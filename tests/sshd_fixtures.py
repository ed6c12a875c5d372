"""Real SSH servers for integration tests: Debian's OpenSSH sshd on loopback and the in-process lab.

``openssh_server`` (session scope) installs ``openssh-server`` with apt-get when ``/usr/sbin/sshd``
is missing, creates the dedicated user ``auditor-sshtest`` (root's ~/.bashrc costs ~85 ms per
command; this user's /bin/sh costs ~2 ms), and runs its own sshd on 127.0.0.1 with key auth only.
It never skips: when sshd cannot be installed or started the fixture fails with the reason.

``ssh_lab`` (function scope) starts an ``SshLabFleet`` with one host per fault, on 127.0.8.x.

Both come back as ``SshTarget`` objects so a test can run the same checks against either.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Iterator

import asyncssh
import pytest

from auditor.lab.sshd import CommandOutcome, LinuxHostModel, SshFaults, SshLabFleet, SshLabHost, lab_address

SSHD = "/usr/sbin/sshd"
TEST_USER = "auditor-sshtest"
#: bytes a test host prints for ``UTF8_COMMAND``: UTF-8 text followed by bytes that are not UTF-8
UTF8_BYTES = b"caf\xc3\xa9 \xe2\x9c\x93 \xff\xfe\x80\n"
UTF8_COMMAND = r"printf 'caf\303\251 \342\234\223 \377\376\200\n'"


@dataclass
class SshTarget:
    """One SSH server a transport test can reach."""

    kind: str                      # "openssh" | "lab"
    host: str
    port: int
    user: str
    hostname: str                  # what ``hostname`` prints there
    known_hosts_line: str          # pins this server's host key
    password: str | None = field(default=None, repr=False)
    key_file: str | None = None
    closed: tuple[str, int] = ("127.0.0.1", 0)  # an address and port where nothing listens


# --- OpenSSH -----------------------------------------------------------------------------------


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def ensure_openssh() -> str:
    """Path of sshd, installing Debian's openssh-server if it is missing. Fails loudly, never skips."""
    if os.path.exists(SSHD):
        return SSHD
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.fail(f"{SSHD} is missing and apt-get is not available to install openssh-server")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for attempt in ("install", "update-then-install"):
        if attempt == "update-then-install":
            subprocess.run([apt, "update"], capture_output=True, env=env, timeout=600)
        res = subprocess.run([apt, "install", "-y", "--no-install-recommends", "openssh-server"],
                             capture_output=True, text=True, env=env, timeout=900)
        if res.returncode == 0 and os.path.exists(SSHD):
            return SSHD
    pytest.fail(f"could not install openssh-server with apt-get: {res.stderr.strip()[-500:]}")


def ensure_test_user(name: str = TEST_USER) -> pwd.struct_passwd:
    """The dedicated login for sshd tests: /bin/sh, no password (``*``: key auth only, not "locked")."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    res = _run("useradd", "-m", "-s", "/bin/sh", name)
    if res.returncode != 0 and "already exists" not in res.stderr:  # another test run may race us
        pytest.fail(f"cannot create test user {name}: {res.stderr.strip()}")
    _run("usermod", "-p", "*", name)
    return pwd.getpwnam(name)


def live_processes(user: str, cmdline: str) -> list[int]:
    """Pids of ``user``'s running (not zombie) processes whose command line is exactly ``cmdline``."""
    uid = pwd.getpwnam(user).pw_uid
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            args = (entry / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if b" ".join(args).decode(errors="replace") == cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def closed_port(host: str = "127.0.0.1") -> tuple[socket.socket, int]:
    """A socket bound but not listening: connecting to its port is refused, and nobody else takes it."""
    s = socket.socket()
    s.bind((host, 0))
    return s, int(s.getsockname()[1])


@dataclass
class OpenSshServer:
    proc: subprocess.Popen[str]
    port: int
    workdir: Path
    host_public_key: str
    client_key_file: str
    log: list[str]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_openssh(user: str = TEST_USER) -> OpenSshServer:
    """Run a private sshd on 127.0.0.1 (foreground, logging to a pipe we read until it listens)."""
    sshd = ensure_openssh()
    ensure_test_user(user)
    os.makedirs("/run/sshd", exist_ok=True)
    # The user must be able to read authorized_keys (sshd opens it with the user's uid): not under /tmp/pytest-*.
    workdir = Path(tempfile.mkdtemp(prefix="auditor-sshd-", dir="/var/tmp"))
    workdir.chmod(0o755)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    (workdir / "host_ed25519").write_bytes(host_key.export_private_key())
    (workdir / "host_ed25519").chmod(0o600)
    client_file = workdir / "client_ed25519"
    client_file.write_bytes(client_key.export_private_key())
    client_file.chmod(0o600)
    (workdir / "authorized_keys").write_bytes(client_key.export_public_key())
    (workdir / "authorized_keys").chmod(0o644)
    last_error = ""
    for _ in range(3):  # the free port may be taken between choosing and binding it
        port = free_port()
        conf = workdir / "sshd_config"
        conf.write_text(
            f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {workdir}/host_ed25519\nPidFile {workdir}/sshd.pid\n"
            f"AuthorizedKeysFile {workdir}/authorized_keys\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin no\n"
            f"AllowUsers {user}\nStrictModes no\nUsePAM no\nMaxStartups 100:30:200\nMaxSessions 100\n"
            "LogLevel INFO\n"
        )
        check = _run(sshd, "-t", "-f", str(conf))
        if check.returncode != 0:
            pytest.fail(f"sshd rejected the test config: {check.stderr.strip()}")
        proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(conf)], stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        log: list[str] = []
        for line in proc.stderr:  # readiness is the line sshd logs once it listens, not a sleep
            log.append(line)
            if "Server listening on" in line:
                threading.Thread(target=lambda p=proc, lg=log: lg.extend(p.stderr), daemon=True).start()
                return OpenSshServer(proc, port, workdir, host_key.export_public_key().decode().strip(),
                                     str(client_file), log)
        proc.wait()
        last_error = "".join(log).strip()
    shutil.rmtree(workdir, ignore_errors=True)
    pytest.fail(f"sshd did not start: {last_error}")


@pytest.fixture(scope="session")
def openssh_server() -> Iterator[OpenSshServer]:
    server = start_openssh()
    yield server
    server.stop()


@pytest.fixture
def openssh_target(openssh_server: OpenSshServer) -> Iterator[SshTarget]:
    holder, port = closed_port()
    yield SshTarget(
        kind="openssh", host="127.0.0.1", port=openssh_server.port, user=TEST_USER,
        hostname=socket.gethostname(), key_file=openssh_server.client_key_file,
        known_hosts_line=f"[127.0.0.1]:{openssh_server.port} {openssh_server.host_public_key}",
        closed=("127.0.0.1", port),
    )
    holder.close()


# --- the in-process lab --------------------------------------------------------------------------


class TransportTestModel(LinuxHostModel):
    """The base model plus the one script the tests need that it does not know."""

    def run_command(self, command: str) -> CommandOutcome:
        if command.strip() == UTF8_COMMAND:
            return CommandOutcome(UTF8_BYTES)
        return super().run_command(command)  # type: ignore[return-value]


#: lab host name -> its fault
LAB_HOSTS = {
    "ok": SshFaults(),
    "rejects": SshFaults(reject_auth=True),
    "closed": SshFaults(closed=True),
    "silent": SshFaults(silent=True),
    "hangs": SshFaults(hang=True),
    "floods": SshFaults(garbage="endless"),
    "garbage": SshFaults(garbage="random"),
    "broken": SshFaults(garbage="broken-markers"),
    "resets": SshFaults(reset="command"),
}


@pytest.fixture
async def ssh_lab() -> AsyncIterator[SshLabFleet]:
    hosts = [SshLabHost(name, lab_address(i, "127.0.8"), TransportTestModel(hostname=f"lab-{name}"), faults, port=0)
             for i, (name, faults) in enumerate(LAB_HOSTS.items(), 1)]
    async with SshLabFleet(hosts) as fleet:
        yield fleet


def lab_target(fleet: SshLabFleet, name: str = "ok") -> SshTarget:
    host = fleet.host(name)
    return SshTarget(
        kind="lab", host=host.address, port=host.bound_port, user=fleet.user, password=fleet.password,
        hostname=f"lab-{name}", known_hosts_line=host.known_hosts_line,
        closed=(fleet.host("closed").address, fleet.host("closed").bound_port),
    )
