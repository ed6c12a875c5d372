"""auditor's winrm transport against a simulated fleet: outcomes, deadlines, faults, TLS, decoding."""

from __future__ import annotations

import dataclasses

import asyncio
import time

import pytest

from auditor.collectors.batch import BatchItem, build_ps_batch, new_nonce, split_batch_output
from auditor.lab.winrs import CommandOutcome, Faults, WindowsHostModel, WinrsFleet, WinrsHostConfig
from auditor.parsers.decode import decode_output
from auditor.transports.base import (
    AuthFailed,
    ConnectFailed,
    TransportError,
    TransportTimeout,
    get_transport,
)
from auditor.transports.winrm import CMDLINE_LIMIT

from .winrm_lab import private_network, winrm_spec

pytestmark = pytest.mark.integration

CONNECT_TIMEOUT = 3.0
COMMAND_TIMEOUT = 6.0


class WslModel(WindowsHostModel):
    """A host whose ``wsl`` collector answers in UTF-16LE, like wsl.exe does."""

    def run_collector(self, name: str, script: str) -> CommandOutcome:
        if name == "wsl_status":
            return CommandOutcome("Default Distribution: Ubuntu\r\n".encode("utf-16-le"))
        return super().run_collector(name, script)


# name -> (host config overrides, expected outcome: "ok" or an exception class)
FLEET: dict[str, tuple[dict, object]] = {
    # as Windows by default: a plain SOAP body over HTTP is refused, so every NTLM host here proves
    # that the engine seals its messages (win03 stays lenient for Basic over HTTP)
    **{f"win{i:02d}": ({"require_encryption": i != 3}, "ok") for i in range(1, 11)},
    "tls01": ({"scheme": "https"}, "ok"),
    "tls02": ({"scheme": "https"}, "ok"),
    "wsl01": ({"model": WslModel("WSL01")}, "ok"),
    "slow01": ({"faults": Faults(slow=0.2)}, "ok"),
    "flaky01": ({"faults": Faults(reset_first=1)}, "ok"),
    "quota01": ({"faults": Faults(quota_after=1)}, "ok"),
    "badpw01": ({"faults": Faults(wrong_password=True)}, AuthFailed),
    "badpw02": ({"faults": Faults(wrong_password=True), "scheme": "https"}, AuthFailed),
    "refused01": ({"faults": Faults(refused=True)}, ConnectFailed),
    "hang01": ({"faults": Faults(hang=True)}, TransportTimeout),
    "reset01": ({"faults": Faults(reset=True)}, ConnectFailed),
    "sleepy01": ({}, TransportTimeout),  # its command outlives the command timeout
    "garbage01": ({"faults": Faults(garbage=True)}, TransportError),  # sealed replies that are not XML
}


@pytest.fixture(params=["native", "pywinrm"])
def client(request) -> str:
    """Both WinRM engines must give every host the same outcome."""
    return request.param


@pytest.fixture
async def fleet(tmp_path):
    hosts = [WinrsHostConfig(name, **overrides) for name, (overrides, _) in FLEET.items()]
    async with WinrsFleet(hosts, network=private_network(), workdir=tmp_path / "lab") as lab:
        yield lab


async def _audit(ep, client: str) -> tuple[object, float, dict]:
    """Connect, run two scripts and a batch on one shell; the outcome and when it ended."""
    started = time.monotonic()
    sleepy = ep.name.startswith("sleepy")
    spec = winrm_spec(ep, CONNECT_TIMEOUT, COMMAND_TIMEOUT, auditor_winrm_client=client)
    try:
        async with get_transport(spec) as t:
            first = await t.run("Start-Sleep -Seconds 30" if sleepy else "hostname")
            second = await t.run("whoami; exit 4")
            nonce = new_nonce()
            items = [BatchItem("host", "hostname"), BatchItem("wsl_status", "wsl --status"),
                     BatchItem("broken", "Get-Nothing")]
            batch = await t.run(build_ps_batch(items, nonce))
            sections = split_batch_output(batch.stdout, batch.stderr, nonce, [i.name for i in items])
            return "ok", time.monotonic() - started, {"first": first, "second": second, "sections": sections}
    except TransportError as exc:
        return exc, time.monotonic() - started, {}


async def test_fleet_each_host_ends_with_its_outcome_inside_its_deadline(fleet, client):
    assert len(fleet.endpoints) >= 20
    results = await asyncio.gather(*(_audit(ep, client) for ep in fleet.endpoints))
    by_name = {ep.name: r for ep, r in zip(fleet.endpoints, results)}
    for name, (_, expected) in FLEET.items():
        outcome, elapsed, data = by_name[name]
        if expected == "ok":
            assert outcome == "ok", (name, outcome)
            assert data["first"].stdout == name.upper().encode() + b"\r\n" and data["first"].rc == 0
            assert data["second"].rc == 4 and data["second"].stdout.endswith(b"\\auditor\r\n")
            secs = data["sections"]
            assert secs["host"].complete and secs["host"].stdout == name.upper().encode() + b"\r\n"
            assert secs["broken"].rc == 1
            broken_err = secs["broken"].stderr.decode()
            assert "The term 'Get-Nothing' is not recognized" in broken_err and "CLIXML" not in broken_err
        else:
            assert isinstance(outcome, expected), (name, outcome)  # type: ignore[arg-type]
            assert ep_password(fleet, name) not in str(outcome)
        # deadline semantics, not speed: connect + three commands, each bounded by its own timeout
        assert elapsed <= CONNECT_TIMEOUT + 3 * COMMAND_TIMEOUT + 2, (name, elapsed)
    wsl = by_name["wsl01"][2]["sections"]["wsl_status"]
    assert decode_output(wsl.stdout) == "Default Distribution: Ubuntu\r\n"
    assert "refused" in str(by_name["refused01"][0])
    assert "reset" in str(by_name["reset01"][0])
    assert "credentials" in str(by_name["badpw01"][0])
    assert "XML" in str(by_name["garbage01"][0]) or "well-formed" in str(by_name["garbage01"][0])


def ep_password(fleet: WinrsFleet, name: str) -> str:
    return next(ep.password for ep in fleet.endpoints if ep.name == name)


async def test_command_longer_than_operation_timeout_keeps_polling(fleet, client):
    ep = next(e for e in fleet.endpoints if e.name == "win01")
    async with get_transport(winrm_spec(ep, auditor_winrm_client=client)) as t:  # operation timeout 1 s: several Receive faults
        res = await t.run("Start-Sleep -Seconds 2.5; Write-Output done")
    assert (res.stdout, res.rc) == (b"done\r\n", 0)


async def test_long_script_goes_over_stdin_and_output_is_bounded(fleet, client):
    ep = next(e for e in fleet.endpoints if e.name == "win02")
    filler = "# " + "x" * 100 + "\n"
    script = filler * (CMDLINE_LIMIT // 50) + "Write-Output long-ok"
    async with get_transport(winrm_spec(ep, auditor_winrm_client=client)) as t:
        long = await t.run(script)
        assert (long.stdout, long.rc) == (b"long-ok\r\n", 0)
        t.spec = dataclasses.replace(t.spec, max_output=1000)
        flood = await t.run("Write-Output '" + "y" * 200_000 + "'")
        assert flood.truncated and len(flood.stdout) == 1000
        after = await t.run("hostname")  # the shell survives a cut command
        assert after.stdout == b"WIN02\r\n"


async def test_https_validation(fleet, client):
    ep = next(e for e in fleet.endpoints if e.name == "tls01")
    async with get_transport(winrm_spec(ep, auditor_winrm_client=client)) as t:
        assert (await t.run("hostname")).stdout == b"TLS01\r\n"
    with pytest.raises(ConnectFailed, match="certificate verify failed.*ansible_winrm_ca_trust_path"):
        async with get_transport(winrm_spec(ep, auditor_winrm_client=client, ansible_winrm_ca_trust_path=None)):
            pass
    insecure = winrm_spec(ep, auditor_winrm_client=client, ansible_winrm_ca_trust_path=None, ansible_winrm_server_cert_validation="ignore")
    async with get_transport(insecure) as t:
        assert (await t.run("hostname")).rc == 0


async def test_certificate_and_basic_auth(fleet, client):
    ep = next(e for e in fleet.endpoints if e.name == "tls02")
    assert fleet.certs is not None
    cert = winrm_spec(ep, auditor_winrm_client=client, ansible_winrm_transport="certificate", ansible_winrm_cert_pem=str(fleet.certs.client_cert),
                      ansible_winrm_cert_key_pem=str(fleet.certs.client_key))
    async with get_transport(cert) as t:
        assert (await t.run("hostname")).stdout == b"TLS02\r\n"
    async with get_transport(winrm_spec(ep, auditor_winrm_client=client, ansible_winrm_transport="basic")) as t:  # basic over https: fine
        assert (await t.run("hostname")).rc == 0
    plain = next(e for e in fleet.endpoints if e.name == "win03")
    with pytest.raises(TransportError, match="refusing Basic auth over plain HTTP"):
        async with get_transport(winrm_spec(plain, auditor_winrm_client=client, ansible_winrm_transport="basic")):
            pass
    async with get_transport(winrm_spec(plain, auditor_winrm_client=client, ansible_winrm_transport="basic",
                                        auditor_winrm_allow_basic_http=True)) as t:
        assert (await t.run("hostname")).stdout == b"WIN03\r\n"


async def test_ntlm_over_http_is_sealed_and_plain_text_is_refused(fleet, client):
    ep = next(e for e in fleet.endpoints if e.name == "win04")  # requires encryption
    with pytest.raises(AuthFailed):
        async with get_transport(winrm_spec(ep, auditor_winrm_client=client,
                                            ansible_winrm_message_encryption="never")) as t:
            await t.run("hostname")
    async with get_transport(winrm_spec(ep, auditor_winrm_client=client,
                                        ansible_winrm_message_encryption="always")) as t:
        assert (await t.run("hostname")).stdout == b"WIN04\r\n"


async def test_a_listener_that_never_accepts_is_a_connect_timeout(client):
    """A full accept queue drops SYNs: the TCP connection never comes up (as behind a black hole)."""
    import socket

    from auditor.inventory.connection import resolve_spec
    from auditor.transports.base import ConnectionRequest

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # fill the queue (the kernel allows backlog + 1)
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        spec = resolve_spec(ConnectionRequest(name="blackhole", host="127.0.0.1", connection="winrm", port=port, user="u",
                              password="p", connect_timeout=1.0, command_timeout=3.0,
                              vars={"ansible_winrm_scheme": "http", "ansible_winrm_transport": "ntlm",
                                    "ansible_winrm_operation_timeout_sec": 1, "ansible_winrm_read_timeout_sec": 2,
                                    "auditor_winrm_client": client}))
        # the native engine tells a connection that never came up from a silent service
        expected = "connecting timed out after 1s" if client == "native" else "timed out|deadline"
        with pytest.raises(TransportTimeout, match=expected):
            async with get_transport(spec):
                pass
    finally:
        for s in fillers:
            s.close()
        server.close()
