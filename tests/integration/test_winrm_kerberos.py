"""Kerberos and CredSSP over WinRM against a real MIT KDC and the lab WinRS server, with both engines:
audits (HTTP sealed, HTTPS with channel binding), every error class and its one-line fix, manual ticket
caches, pywinrm's own Kerberos client as the lab's proof."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import time

import pytest
import spnego
import winrm

from auditor.lab.kerberos import SkewedHost
from auditor.lab.winrs import Faults, WinrsFleet, WinrsHostConfig
from auditor.lab.winrs.auth import AuthConfig, ConnectionAuth
from auditor.secrets import Secret
from auditor.transports.base import AuthFailed, ConnectFailed, TransportError, TransportTimeout, get_transport
from auditor.transports.wsman import kerberos
from spnego.channel_bindings import GssChannelBindings

from .kerberos_lab import PASSWORD
from .winrm_lab import private_network, winrm_spec

pytestmark = pytest.mark.integration
KRB = frozenset({"kerberos"})


@pytest.fixture(params=["native", "pywinrm"])
def client(request) -> str:
    return request.param


@pytest.fixture
async def fleet(kdc, tmp_path):
    kerberos.forget_tickets()
    keytabs = kdc.keytabs("krb01", "krbtls01", "skew01", "basic01", "quota01", "env01", "mismatch01", "cred01")
    hosts = [
        WinrsHostConfig("krb01", auth=KRB, keytab=keytabs["krb01"], require_encryption=True),
        WinrsHostConfig("krbtls01", scheme="https", auth=KRB, keytab=keytabs["krbtls01"]),
        WinrsHostConfig("nospn01", auth=KRB, keytab=None),           # the KDC has no HTTP/nospn01
        WinrsHostConfig("basic01", auth=frozenset({"basic"})),       # offers Basic only
        WinrsHostConfig("quota01", auth=KRB, keytab=keytabs["quota01"], faults=Faults(max_shells=0)),
        WinrsHostConfig("env01", auth=KRB, keytab=keytabs["env01"], faults=Faults(max_envelope_kb=1)),
        WinrsHostConfig("mismatch01", auth=KRB, keytab=keytabs["mismatch01"]),
        WinrsHostConfig("cred01", auth=frozenset({"credssp"}), require_encryption=True),
        WinrsHostConfig("credtls01", scheme="https", auth=frozenset({"credssp"})),
    ]
    network = private_network()
    async with WinrsFleet(hosts, network=network, workdir=tmp_path / "lab") as lab:
        skewed = SkewedHost(WinrsHostConfig("skew01", address=network.replace(".0/24", ".200"), port=0, auth=KRB,
                                            keytab=keytabs["skew01"]), skew=900, krb5_conf=str(kdc.krb5_conf))
        await skewed.start()
        lab.skewed = skewed  # type: ignore[attr-defined]
        try:
            yield lab
        finally:
            await skewed.stop()
            kerberos.forget_tickets()


def ep(fleet, name):
    if name == "skew01":
        s = fleet.skewed
        return type("Ep", (), {"name": "skew01", "address": s.config.address, "port": s.port, "scheme": "http",
                               "user": "auditor", "password": PASSWORD, "ca_path": None})()
    return next(e for e in fleet.endpoints if e.name == name)


def kspec(kdc, fleet, name, client, password=PASSWORD, user=None, spec_name=None, **extra):
    e = ep(fleet, name)
    return winrm_spec(e, connect_timeout=5, command_timeout=8, ansible_winrm_transport="kerberos",
                      auditor_krb5_config=str(kdc.krb5_conf), auditor_winrm_client=client, user=user or kdc.principal,
                      password=password, name=spec_name, **extra)


async def test_audit_over_kerberos_http_sealed_and_https_bound(kdc, fleet, client):
    """krb01 refuses plain bodies (AllowUnencrypted=false), so its answers prove sealing; krbtls01's lab
    acceptor checks the tls-server-end-point binding of its own certificate."""
    for name in ("krb01", "krbtls01"):
        async with get_transport(kspec(kdc, fleet, name, client)) as t:
            first = await t.run("hostname")
            second = await t.run("whoami; exit 4")
            long = await t.run("# " + "x" * 9000 + "\nWrite-Output long-ok")  # over stdin: several Sends
        assert (first.stdout, first.rc) == (name.upper().encode() + b"\r\n", 0)
        assert second.rc == 4 and second.stdout.endswith(b"\\auditor\r\n")
        assert long.stdout == b"long-ok\r\n"


async def test_plain_text_is_refused_where_encryption_is_required(kdc, fleet, client):
    with pytest.raises(AuthFailed):
        async with get_transport(kspec(kdc, fleet, "krb01", client, ansible_winrm_message_encryption="never")) as t:
            await t.run("hostname")


def test_the_lab_acceptor_checks_channel_binding(kdc, fleet):
    """A ticket bound to another certificate is refused; bound to the listener's own, accepted."""
    opts = kerberos.KerberosOptions(kdc.principal, Secret(PASSWORD), True, False, "krbtls01", "HTTP", str(kdc.krb5_conf), True)
    ccache = kerberos.ticket_cache(opts)
    server = next(s for s in fleet.servers if s.config.name == "krbtls01")
    own = server.channel_bindings
    assert own is not None and own.startswith(b"tls-server-end-point:")
    results = {}
    for label, data in (("own", own), ("other", b"tls-server-end-point:" + b"\0" * 32)):
        ctx = spnego.client(spnego.KerberosCCache(ccache=ccache, principal=kdc.principal), hostname="krbtls01",
                            service="HTTP", channel_bindings=GssChannelBindings(application_data=data),
                            protocol="kerberos")
        auth = ConnectionAuth(AuthConfig("auditor", PASSWORD, KRB, keytab=server.config.keytab), None, own)
        results[label] = auth.check("Negotiate " + base64.b64encode(ctx.step()).decode()).ok
    assert results == {"own": True, "other": False}


# name -> (spec changes, error class, words the one-line message must hold)
ERRORS = {
    "wrong password": ("krb01", {"password": "not-the-password"}, AuthFailed, "rejected the password of auditor@AUDITOR.LAB"),
    "unknown principal": ("krb01", {"user": "nobody@AUDITOR.LAB"}, AuthFailed, "knows no user nobody@AUDITOR.LAB"),
    "no SPN": ("nospn01", {}, AuthFailed, "no service principal HTTP/nospn01: register it (setspn -S"),
    "by IP": ("krb01", {"name": "127.0.0.1"}, AuthFailed, "connected by IP address"),
    "realm unknown": ("krb01", {"user": "auditor@auditor.lab"}, TransportError, "realm auditor.lab is unknown here (realms are upper case: AUDITOR.LAB)"),
    "KDC unreachable": ("krb01", {"user": "auditor@DEAD.LAB"}, ConnectFailed, "no KDC of DEAD.LAB answered"),
    "realm mismatch": ("mismatch01", {}, TransportError, "realm/DNS mismatch: HTTP/mismatch01 exists in AUDITOR.LAB, but krb5.conf maps mismatch01 to another realm"),
    "clock skew": ("skew01", {}, AuthFailed, "clock skew: skew01's clock is 1"),
    "401 offered methods": ("basic01", {}, AuthFailed, "does not offer Negotiate authentication (it offers Basic)"),
    "HTTP 413": ("env01", {}, TransportError, "HTTP 413, the request is larger than the host's MaxEnvelopeSizekb: raise it"),
    "HTTP 500 fault": ("quota01", {}, TransportError, "maximum number of 0 concurrent shells"),
}


@pytest.mark.parametrize("case", list(ERRORS))
async def test_each_error_class_ends_the_host_with_its_outcome_and_fix(kdc, fleet, client, case):
    name, changes, error, words = ERRORS[case]
    spec = kspec(kdc, fleet, name, client, **{"spec_name" if k == "name" else k: v for k, v in changes.items()})
    with pytest.raises(error) as info:
        async with get_transport(spec) as t:
            await t.run("hostname")
    message = str(info.value)
    assert type(info.value) is error, (case, type(info.value), message)
    assert words in message, (case, message)
    assert "\n" not in message and PASSWORD not in message


async def test_a_wrong_password_costs_the_account_one_attempt(kdc, fleet):
    """A wrong password is remembered: the KDC sees one bad attempt, not one per host (lockout)."""
    log = kdc.realm.workdir / "kdc.log"
    before = log.read_text().count("PREAUTH_FAILED")
    for _ in range(3):
        spec = kspec(kdc, fleet, "krb01", "native", password="stale-password")
        with pytest.raises(AuthFailed, match="rejected the password"):
            async with get_transport(spec):
                pass
    deadline = time.monotonic() + 5  # the KDC writes its log as it answers; wait until the line is there
    while log.read_text().count("PREAUTH_FAILED") == before and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert log.read_text().count("PREAUTH_FAILED") - before == 1


async def test_operation_timeout_polls_then_the_deadline_is_timed_out(kdc, fleet, client):
    spec = kspec(kdc, fleet, "krb01", client)
    async with get_transport(spec) as t:
        done = await t.run("Start-Sleep -Seconds 2.5; Write-Output done")  # several OperationTimeout faults
        assert done.stdout == b"done\r\n"
        with pytest.raises(TransportTimeout, match="did not finish in time|deadline"):
            await t.run("Start-Sleep -Seconds 30", timeout=3)


async def test_manual_mode_uses_the_users_own_ticket_cache(kdc, fleet, tmp_path, monkeypatch):
    cache = tmp_path / "ccache"
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{cache}")
    spec = kspec(kdc, fleet, "krb01", "native", ansible_winrm_kinit_mode="manual")
    with pytest.raises(AuthFailed, match="no valid ticket for auditor@AUDITOR.LAB in the credential cache: run kinit"):
        async with get_transport(spec):
            pass
    env = {**os.environ, "KRB5_CONFIG": str(kdc.krb5_conf), "KRB5CCNAME": f"FILE:{cache}"}
    subprocess.run(["kinit", kdc.principal], input=PASSWORD + "\n", text=True, env=env, check=True,
                   capture_output=True, timeout=30)
    for client in ("native", "pywinrm"):
        spec = kspec(kdc, fleet, "krb01", client, password=None, ansible_winrm_kinit_mode="manual")
        async with get_transport(spec) as t:
            assert (await t.run("hostname")).stdout == b"KRB01\r\n"


@pytest.mark.parametrize("name", ["cred01", "credtls01"])
async def test_credssp_delegates_the_password_and_seals_over_http(fleet, name):
    e = ep(fleet, name)
    async with get_transport(winrm_spec(e, ansible_winrm_transport="credssp")) as t:
        assert (await t.run("hostname")).stdout == name.upper().encode() + b"\r\n"
        big = await t.run("Write-Output '" + "z" * 40000 + "'")  # replies over 16 KiB: several sealed parts
        assert big.stdout.strip() == b"z" * 40000
    server = next(s for s in fleet.servers if s.config.name == name)
    assert server.auth_config.methods == frozenset({"credssp"})
    spec = winrm_spec(e, ansible_winrm_transport="credssp", password="wrong")
    with pytest.raises(AuthFailed):
        async with get_transport(spec):
            pass


async def test_pywinrm_engine_credssp_over_https(fleet):
    e = ep(fleet, "credtls01")
    async with get_transport(winrm_spec(e, ansible_winrm_transport="credssp", auditor_winrm_client="pywinrm")) as t:
        assert (await t.run("hostname")).stdout == b"CREDTLS01\r\n"


async def test_pywinrms_own_kerberos_client_speaks_to_the_lab(kdc, fleet, tmp_path):
    """The lab's proof: pywinrm (pykerberos, sealed over HTTP; channel binding over HTTPS) against it."""
    cache = tmp_path / "ccache"
    env = {**os.environ, "KRB5_CONFIG": str(kdc.krb5_conf), "KRB5CCNAME": f"FILE:{cache}"}
    subprocess.run(["kinit", kdc.principal], input=PASSWORD + "\n", text=True, env=env, check=True,
                   capture_output=True, timeout=30)

    kerberos.use_krb5_config(kerberos.KerberosOptions(None, None, False, False, "-", "HTTP", str(kdc.krb5_conf), True))

    def session_run(e, host):
        import gssapi.raw

        gssapi.raw.krb5_ccache_name(f"FILE:{cache}".encode())
        s = winrm.Session(e.url, auth=(kdc.principal, None), transport="kerberos", kerberos_hostname_override=host,
                          server_cert_validation="validate", ca_trust_path=e.ca_path)
        return s.run_cmd("hostname"), s.run_ps("exit 3")

    for name in ("krb01", "krbtls01"):
        e = ep(fleet, name)
        cmd, ps = await asyncio.to_thread(session_run, e, name)
        assert (cmd.status_code, cmd.std_out) == (0, name.upper().encode() + b"\r\n")
        assert ps.status_code == 3
