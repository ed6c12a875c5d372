"""The preflight steps of `auditor doctor`: each one a real exchange with the host, its result, and the
change that would fix it. No step raises: a failure is a ``Step`` with ``ok=False``; steps that cannot
run after an earlier failure are not attempted (``ok=None``, say why).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass

from auditor.inventory.connection import ConnectionDefaults, resolve_spec
from auditor.transports.base import ConnectionRequest, ConnectionSpec, TransportError, get_transport
from auditor.transports.winrm_engine import short


@dataclass
class Step:
    name: str
    ok: bool | None          # True passed, False failed, None not run / for information
    detail: str
    fix: str = ""


async def dns(host: str, port: int) -> tuple[Step, list[str]]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return Step("DNS", False, f"{host} does not resolve ({exc})",
                    "fix the name in DNS, or set ansible_host to the host's address"), []
    addresses = list(dict.fromkeys(str(i[4][0]) for i in infos))
    return Step("DNS", True, f"{host} -> {', '.join(addresses[:4])}"), addresses


async def tcp(host: str, port: int, timeout: float, what: str) -> Step:
    started = time.monotonic()
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except asyncio.TimeoutError:
        return Step("TCP", False, f"{host}:{port}: no answer within {timeout:g}s (filtered?)",
                    f"open port {port} in the firewalls between here and the host; check that {what} listens")
    except OSError as exc:
        return Step("TCP", False, f"{host}:{port}: {exc.strerror or exc}",
                    f"start {what} on the host, or fix ansible_port")
    writer.close()
    return Step("TCP", True, f"{host}:{port} accepts connections ({(time.monotonic() - started) * 1000:.0f} ms)")


async def reach(host: str, port: int, timeout: float, what: str) -> tuple[list[Step], bool]:
    """DNS then TCP; whether the host can be reached at all."""
    step, _ = await dns(host, port)
    steps = [step]
    if step.ok:
        steps.append(await tcp(host, port, timeout, what))
    return steps, bool(steps[-1].ok)


# --- WinRM ------------------------------------------------------------------------------------------

async def winrm_steps(spec: ConnectionSpec) -> list[Step]:
    from auditor.transports.winrm_options import resolved_winrm

    opts = resolved_winrm(spec)
    steps = [Step("options", True, f"{opts.scheme}://{spec.host}:{opts.port}{opts.path}, auth {opts.auth}"
                                   + (f", engine {opts.client}" if opts.client != "native" else ""))]
    reached, ok = await reach(spec.host, opts.port, spec.connect_timeout, "the WinRM listener (winrm quickconfig)")
    steps += reached
    if not ok:
        return steps + [Step("WinRM", None, "not checked: the host cannot be reached")]
    if opts.scheme == "https":
        steps.append(await tls(spec, opts))
        if not steps[-1].ok:
            return steps + [Step("WinRM", None, "not checked: no trusted TLS connection")]
    steps += await listener(spec, opts)
    if opts.kerberos is not None:
        steps.append(await kerberos_ticket(opts))
    steps += await session(spec, opts)
    return steps


async def tls(spec: ConnectionSpec, opts) -> Step:  # noqa: ANN001 - WinrmOptions
    from auditor.transports.winrm_native import ssl_context

    try:
        ctx = ssl_context(opts)
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(spec.host, opts.port, ssl=ctx, server_hostname=spec.host), spec.connect_timeout)
    except ssl.SSLCertVerificationError as exc:
        fix = ("the certificate does not name the host: connect by a name it lists, or reissue it"
               if "hostname" in (exc.verify_message or "").lower() or "IP address mismatch" in str(exc)
               else "set ansible_winrm_ca_trust_path to the CA that signed the listener's certificate")
        return Step("TLS", False, f"certificate not accepted: {exc.verify_message or short(exc)}", fix)
    except (ssl.SSLError, OSError, asyncio.TimeoutError) as exc:
        return Step("TLS", False, f"handshake failed: {short(exc) or type(exc).__name__}",
                    "check that the HTTPS listener has a certificate bound (winrm enumerate winrm/config/listener)")
    cert = writer.get_extra_info("peercert") or {}
    writer.close()
    subject = dict(x[0] for x in cert.get("subject", ()) if x)
    issuer = dict(x[0] for x in cert.get("issuer", ()) if x)
    names = [v for _, v in cert.get("subjectAltName", ())]
    if not cert:  # validation is off: nothing was checked
        return Step("TLS", None, "handshake done, certificate NOT validated (ansible_winrm_server_cert_validation=ignore)",
                    "validate it: set ansible_winrm_ca_trust_path instead of ignoring")
    return Step("TLS", True, f"chain trusted, name matches: CN={subject.get('commonName', '?')}, "
                             f"names {', '.join(names[:4]) or '-'}, issuer {issuer.get('commonName', '?')}, "
                             f"expires {cert.get('notAfter', '?')}")


async def listener(spec: ConnectionSpec, opts) -> list[Step]:  # noqa: ANN001 - WinrmOptions
    """One unauthenticated POST: the methods the 401 offers (``WWW-Authenticate``) and the host's clock."""
    from auditor.transports.winrm_native import ssl_context
    from auditor.transports.wsman import kerberos
    from auditor.transports.wsman.auth import offered_schemes
    from auditor.transports.wsman.http import HttpConnection

    http = HttpConnection(spec.host, opts.port, ssl_context(opts) if opts.scheme == "https" else None)
    try:
        reply = await asyncio.wait_for(http.request(opts.path, [("Content-Type", "application/soap+xml;charset=UTF-8")],
                                                    b""), spec.connect_timeout + 5)
    except (OSError, ssl.SSLError, asyncio.TimeoutError, ValueError) as exc:
        return [Step("auth methods", False, f"no HTTP answer on {opts.path}: {short(exc) or type(exc).__name__}",
                     "check that the listener serves WS-Management (winrm enumerate winrm/config/listener)")]
    finally:
        await http.aclose()
    offered = offered_schemes(reply)
    wanted = {"ntlm": "Negotiate", "kerberos": "Negotiate", "credssp": "CredSSP", "basic": "Basic"}.get(opts.auth)
    steps = []
    if reply.status != 401:
        steps.append(Step("auth methods", False, f"HTTP {reply.status} without authentication (expected 401)",
                          "this is not a WinRM listener, or it lets anyone in"))
    elif wanted and wanted.lower() not in (s.lower() for s in offered):
        steps.append(Step("auth methods", False, f"the listener offers {', '.join(offered) or 'nothing'}, "
                                                 f"not {wanted} ({opts.auth})",
                          f"enable {opts.auth} in the WinRM service (winrm set winrm/config/service/auth "
                          f"@{{{opts.auth.capitalize()}=\"true\"}}) or choose another ansible_winrm_transport"))
    else:
        steps.append(Step("auth methods", True, f"the listener offers {', '.join(offered) or '(certificate only)'}"))
    skew = kerberos.skew_seconds(reply.header("date"))
    if skew is None:
        steps.append(Step("clock", None, "the listener sent no Date header: skew not measured"))
    else:
        late = abs(skew) > kerberos.SKEW_LIMIT
        steps.append(Step("clock", not late if opts.auth == "kerberos" else (None if late else True),
                          f"the host's clock is {skew:+.0f}s from this machine's (HTTP Date)"
                          + (f"; Kerberos allows {kerberos.SKEW_LIMIT}s" if late else ""),
                          "sync the clocks (w32tm /resync on the host, chrony/ntp here)" if late else ""))
    return steps


async def kerberos_ticket(opts) -> Step:  # noqa: ANN001 - WinrmOptions
    """A TGT (managed kinit, or the user's cache) and a service ticket for the host's SPN."""
    from auditor.transports.wsman import kerberos

    k = opts.kerberos

    def fetch() -> str:
        ccache = kerberos.ticket_cache(k)
        kerberos.service_context(k, ccache)
        return "a private in-memory cache (managed kinit)" if ccache else "the user's credential cache"

    try:
        where = await asyncio.to_thread(fetch)
    except kerberos.KerberosFailure as exc:
        head, _, fix = exc.message.rpartition(": ")
        return Step("Kerberos", False, head, fix)
    conf = k.krb5_config or "KRB5_CONFIG / /etc/krb5.conf"
    return Step("Kerberos", True, f"service ticket for {k.spn} as {k.principal or 'the cached principal'} "
                                  f"from {where} (krb5.conf: {conf})")


async def session(spec: ConnectionSpec, opts) -> list[Step]:  # noqa: ANN001 - WinrmOptions
    """The credential test (authenticate), then the shell quotas WS-Management lets an admin read."""
    from auditor.transports.winrm_native import NativeEngine
    from auditor.transports.wsman import messages

    engine = NativeEngine(spec, opts)
    steps = []
    try:
        deadline = time.monotonic() + spec.connect_timeout + 5
        await engine.authenticate(deadline)
        steps.append(Step("credentials", True, f"{opts.auth} authentication as {spec.user or 'the cached principal'} "
                                               f"accepted" + (", messages sealed" if engine.client.auth.sealing else "")))
    except TransportError as exc:
        fix = _fix_of(str(exc))
        steps.append(Step("credentials", False, str(exc)[: -len(fix) - 2] if fix else str(exc), fix))
        steps.append(Step("quotas", None, "not read: not authenticated"))
        await engine.close(time.monotonic() + 2)
        return steps
    read: dict[str, str] = {}
    denied = ""
    for resource in (messages.RESOURCE_CONFIG_WINRS, messages.RESOURCE_CONFIG):
        try:
            read.update(await engine.read_config(resource, time.monotonic() + spec.connect_timeout + 5))
        except TransportError as exc:
            denied = str(exc)
    await engine.close(time.monotonic() + 2)
    keys = ["MaxShellsPerUser", "MaxMemoryPerShellMB", "MaxProcessesPerShell", "MaxConcurrentUsers",
            "IdleTimeout", "MaxEnvelopeSizekb", "MaxTimeoutms"]
    shown = ", ".join(f"{k}={read[k]}" for k in keys if k in read)
    if not read:
        steps.append(Step("quotas", None, f"winrm/config and winrm/config/winrs could not be read ({denied}); "
                                          "reading them needs an administrator on the host"))
    else:
        small = int(read.get("MaxEnvelopeSizekb", "500") or 500) < 150
        steps.append(Step("quotas", not small, f"read winrm/config/winrs and winrm/config (WS-Transfer Get): {shown}",
                          "raise MaxEnvelopeSizekb to at least 500 (Set-Item WSMan:\\localhost\\MaxEnvelopeSizekb 500)"
                          if small else ""))
    return steps


def _fix_of(message: str) -> str:
    """The fix a one-line transport message already carries after its last colon, when it has one."""
    head, sep, tail = message.rpartition(": ")
    return tail if sep and any(w in tail for w in ("set ", "sync", "register", "update", "check", "add ", "run ",
                                                   "enable", "fix", "make ", "raise", "change", "unlock")) else ""


# --- SSH ------------------------------------------------------------------------------------------

async def ssh_steps(spec: ConnectionSpec) -> list[Step]:
    import asyncssh

    from auditor.transports.known_hosts import lookup
    from auditor.transports.sshopts import ssh_settings

    s = ssh_settings(spec)
    steps = [Step("options", True, f"ssh {s.user or '(current user)'}@{s.host}:{s.port}, host keys {s.host_key_checking} "
                                   f"({s.known_hosts_file})")]
    reached, ok = await reach(s.host, s.port, s.connect_timeout, "sshd")
    steps += reached
    if not ok:
        return steps + [Step("SSH", None, "not checked: the host cannot be reached")]
    try:
        key = await asyncio.wait_for(asyncssh.get_server_host_key(s.host, s.port), s.connect_timeout + 1)
    except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
        steps.append(Step("host key", False, f"no SSH handshake: {short(exc) or type(exc).__name__}",
                          "check that sshd (not another service) listens on the port"))
        return steps
    fingerprint = key.get_fingerprint() if key is not None else "?"
    try:
        hit = lookup(s.known_hosts_file, s.host, s.port)
    except TransportError as exc:
        hit, steps = None, steps + [Step("host key", False, str(exc), "fix or remove the known_hosts file")]
        return steps
    if hit is None:
        steps.append(Step("host key", s.host_key_checking != "strict",
                          f"{fingerprint} is not in {s.known_hosts_file}"
                          + (" (accept-new records it on first connect)" if s.host_key_checking == "accept-new" else ""),
                          f"add it: ssh-keyscan -p {s.port} {s.host} >> {s.known_hosts_file} (after checking the fingerprint)"
                          if s.host_key_checking == "strict" else ""))
    elif key is not None and any(k.public_data == key.public_data for k in hit[1][0]):
        steps.append(Step("host key", True, f"{fingerprint} matches {s.known_hosts_file}"))
    else:
        steps.append(Step("host key", False, f"{fingerprint} differs from the key pinned in {s.known_hosts_file}",
                          f"if the host was reinstalled: ssh-keygen -R {s.host} -f {s.known_hosts_file}; "
                          f"otherwise suspect a man in the middle"))
        return steps
    steps.append(await login(spec))
    return steps


async def login(spec: ConnectionSpec) -> Step:
    """Connect and authenticate with the transport the audit would use, then run nothing."""
    from auditor.transports.base import AuthFailed

    try:
        transport = get_transport(spec)
        await transport.connect()
    except AuthFailed as exc:
        return Step("credentials", False, str(exc), "check ansible_user and ansible_password / the private key")
    except TransportError as exc:
        return Step("credentials", False, str(exc), _fix_of(str(exc)))
    await transport.close()
    return Step("credentials", True, f"logged in as {spec.user or '(current user)'}")


async def host_steps(request: ConnectionRequest, cli: ConnectionDefaults) -> list[Step]:
    """Every step for one host: its connection options resolved as a run resolves them (``resolve_spec``), then
    the network, TLS, authentication and quotas of the transport it would use."""
    try:
        spec = resolve_spec(request, cli)
    except TransportError as exc:
        return [Step("options", False, str(exc), "fix the inventory variable named above")]
    if spec.connection == "winrm":
        return await winrm_steps(spec)
    if spec.connection in ("ssh", "paramiko"):
        return await ssh_steps(spec)
    return [Step("connection", True, f"{spec.connection}: runs on this machine, nothing to check")]
