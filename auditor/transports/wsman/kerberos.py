"""Kerberos for WinRM: tickets, the krb5.conf in use, and failures turned into one-line fixes.

Tickets. With a password (``ansible_winrm_kinit_mode: managed``) auditor runs the AS exchange itself
(MIT krb5 through the ``krb5`` package, as pyspnego does) into a ``MEMORY:`` credential cache private
to this process: never the user's default cache, never on disk (nothing to chmod or clean up, and a
killed run leaves no ticket behind). One kinit per (principal, password, delegation) per process,
shared by every host; a failed kinit is remembered too, so a wrong password costs the account one
bad attempt, not one per host (domains lock accounts after a few). Without a password (``manual``)
the user's own ticket cache is used as ``kinit`` left it (``KRB5CCNAME`` or the default).

Failures. krb5 and GSS-API report numbers from the krb5 error table; ``classify`` maps those a user
can fix to a ``KerberosFailure``: the host outcome it means and what to change.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass

import spnego

from auditor.transports.winrm_options import KRB5_CONFIG_VAR, KerberosOptions

# krb5 error table (krb5/krb5_err.h): ERROR_TABLE_BASE_krb5 = -1765328384 plus the RFC 4120 code
C_PRINCIPAL_UNKNOWN = -1765328378
S_PRINCIPAL_UNKNOWN = -1765328377
CLIENT_REVOKED = -1765328366
KEY_EXPIRED = -1765328361
PREAUTH_FAILED = -1765328360
BAD_INTEGRITY = -1765328353        # wrong password when the KDC asks no pre-authentication
TKT_EXPIRED = -1765328352
TKT_NOT_YET_VALID = -1765328351
CLOCK_SKEW = -1765328347
AP_MODIFIED = -1765328343          # the host could not decrypt the ticket: its keytab is stale
WRONG_REALM = -1765328316
CC_NOTFOUND = -1765328243
REALM_UNKNOWN = -1765328230        # "Cannot find KDC for realm"
KDC_UNREACHABLE = -1765328228
FCC_NOFILE = -1765328189
REALM_CANT_RESOLVE = -1765328164
SKEW_LIMIT = 300                   # seconds: krb5's default clockskew, and Windows' "maximum tolerance"


@dataclass
class KerberosFailure(Exception):
    """A Kerberos problem: ``outcome`` is auth (the host rejects us), unreachable (no KDC) or config."""

    outcome: str
    message: str
    code: int | None = None

    def __str__(self) -> str:
        return self.message


def signed32(code: int | None) -> int | None:
    """GSS minor codes arrive unsigned; the krb5 table is signed."""
    if code is None:
        return None
    return code - (1 << 32) if code >= (1 << 31) else code


def _realm(principal: str | None) -> str:
    return principal.rpartition("@")[2] if principal and "@" in principal else "the default realm"


def classify(code: int | None, text: str, opts: KerberosOptions) -> KerberosFailure:
    """The failure ``code`` (krb5 table, signed or unsigned) with ``text`` (the library's words) means."""
    code = signed32(code)
    failure = _classify(code, text, opts)
    failure.code = code
    return failure


def _classify(code: int | None, text: str, opts: KerberosOptions) -> KerberosFailure:
    who, realm, spn = opts.principal or "the cached principal", _realm(opts.principal), opts.spn
    conf = os.environ.get("KRB5_CONFIG") or "/etc/krb5.conf"
    if code in (PREAUTH_FAILED, BAD_INTEGRITY):
        return KerberosFailure("auth", f"Kerberos: the KDC rejected the password of {who} (wrong or changed): "
                                       f"update ansible_password")
    if code == C_PRINCIPAL_UNKNOWN:
        return KerberosFailure("auth", f"Kerberos: the KDC of {realm} knows no user {who}: check ansible_user "
                                       f"(user@REALM, the realm in upper case)")
    if code == CLIENT_REVOKED:
        return KerberosFailure("auth", f"Kerberos: the account {who} is locked or disabled: unlock it in the domain")
    if code == KEY_EXPIRED:
        return KerberosFailure("auth", f"Kerberos: the password of {who} has expired: change it, then ansible_password")
    if code in (CLOCK_SKEW, TKT_NOT_YET_VALID):
        return KerberosFailure("auth", f"Kerberos: clock skew too great (over {SKEW_LIMIT // 60} minutes) between "
                                       f"this machine, the KDC and {opts.spn_host}: sync the clocks (chrony/ntp here, "
                                       f"w32tm /resync on Windows)")
    if code == KDC_UNREACHABLE:
        return KerberosFailure("unreachable", f"Kerberos: no KDC of {realm} answered: check the kdc lines of "
                                              f"[realms] {realm} in {conf} and that port 88 is reachable")
    if code in (REALM_UNKNOWN, REALM_CANT_RESOLVE, WRONG_REALM):
        named = re.search(r'realm "?([^"\s]+)"?', text)
        bad = named.group(1) if named else realm
        if bad != realm and realm != "the default realm":
            return KerberosFailure("config", f"Kerberos: realm/DNS mismatch: {opts.spn_host} maps to realm {bad} "
                                             f"but {who} is in {realm}: fix [domain_realm] in {conf}")
        case = f" (realms are upper case: {bad.upper()})" if bad != bad.upper() else ""
        return KerberosFailure("config", f"Kerberos: realm {bad} is unknown here{case}: add it under [realms] in "
                                         f"{conf}, or set dns_lookup_kdc = true")
    if code == S_PRINCIPAL_UNKNOWN:
        server = re.search(r"Server (\S+) not found", text)
        name = server.group(1) if server else spn
        service_realm = name.rpartition("@")[2] if "@" in name else ""
        if name.startswith("krbtgt/") or (service_realm and realm != "the default realm" and service_realm != realm):
            other = name.split("/", 1)[1].split("@", 1)[0] if name.startswith("krbtgt/") else service_realm
            return KerberosFailure("config", f"Kerberos: realm/DNS mismatch: {opts.spn_host} maps to realm {other}, "
                                             f"which {realm} has no trust with: fix [domain_realm] in {conf}")
        if opts.by_ip:
            return KerberosFailure("auth", f"Kerberos: no service principal {spn}: connected by IP address, and "
                                           f"domains register SPNs for names: set ansible_winrm_kerberos_hostname_override "
                                           f"to the host's DNS name")
        return KerberosFailure("auth", f"Kerberos: the KDC knows no service principal {spn}: register it "
                                       f"(setspn -S {spn} <computer account>) or set "
                                       f"ansible_winrm_kerberos_hostname_override to the name that has one")
    if code in (FCC_NOFILE, CC_NOTFOUND, TKT_EXPIRED) or "No Kerberos credentials" in text:
        return KerberosFailure("auth", f"Kerberos: no valid ticket for {who} in the credential cache: run "
                                       f"kinit {opts.principal or 'user@REALM'}, or set ansible_password for managed kinit")
    if code == AP_MODIFIED:
        return KerberosFailure("auth", f"Kerberos: {opts.spn_host} could not decrypt its ticket (stale keytab or "
                                       f"duplicate SPN {spn}): check setspn -Q {spn}")
    return KerberosFailure("auth", f"Kerberos: {_one_line(text)}")


# MIT krb5's words for the codes above, for libraries that pass on only the text (pykerberos)
_TEXTS = [("Clock skew too great", CLOCK_SKEW), ("Preauthentication failed", PREAUTH_FAILED),
          ("Password incorrect", BAD_INTEGRITY), ("Cannot contact any KDC", KDC_UNREACHABLE),
          ("Cannot find KDC for realm", REALM_UNKNOWN), ("Cannot resolve network address for KDC", REALM_CANT_RESOLVE),
          ("Server not found in Kerberos database", S_PRINCIPAL_UNKNOWN), ("Client not found", C_PRINCIPAL_UNKNOWN),
          ("Clients credentials have been revoked", CLIENT_REVOKED), ("Password has expired", KEY_EXPIRED),
          ("No Kerberos credentials available", FCC_NOFILE), ("No credentials cache found", FCC_NOFILE)]


def classify_text(text: str, opts: KerberosOptions) -> KerberosFailure:
    """``classify`` from a message alone."""
    for words, code in _TEXTS:
        if words.lower() in text.lower():
            return classify(code, text, opts)
    if re.search(r"Server \S+ not found in Kerberos database", text):
        return classify(S_PRINCIPAL_UNKNOWN, text, opts)
    if re.search(r"Client '?\S+'? not found in Kerberos database", text):
        return classify(C_PRINCIPAL_UNKNOWN, text, opts)
    return classify(None, text, opts)


def skew_seconds(date_header: str | None) -> float | None:
    """Seconds a host's clock (its HTTP ``Date``) is ahead of this machine's; None without a date."""
    if not date_header:
        return None
    try:
        return email.utils.parsedate_to_datetime(date_header).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def skew_failure(opts: KerberosOptions, date_header: str | None) -> KerberosFailure | None:
    """Clock skew, measured from the host's ``Date`` header, when it is over Kerberos' limit."""
    skew = skew_seconds(date_header)
    if skew is None or abs(skew) <= SKEW_LIMIT:
        return None
    minutes, secs = divmod(int(round(abs(skew))), 60)
    hours, minutes = divmod(minutes, 60)
    size = f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
    side = "ahead of" if skew > 0 else "behind"
    return KerberosFailure("auth", f"Kerberos: clock skew: {opts.spn_host}'s clock is {size} {side} this machine's "
                                   f"(HTTP Date; Kerberos allows {SKEW_LIMIT // 60} min): sync the clocks "
                                   f"(w32tm /resync on the host, chrony/ntp here)")


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 240 else text[:237] + "..."


def classify_exception(exc: BaseException, opts: KerberosOptions) -> KerberosFailure:
    """``classify`` for what krb5, python-gssapi or pyspnego raised."""
    code, text = _code_and_text(exc)
    return classify(code, text, opts)


def _code_and_text(exc: BaseException) -> tuple[int | None, str]:
    seen: BaseException | None = exc
    while seen is not None:
        err_code = getattr(seen, "err_code", None)          # krb5.Krb5Error
        if isinstance(err_code, int):
            return err_code, str(seen)
        min_code = getattr(seen, "min_code", None)          # gssapi.raw.GSSError
        if isinstance(min_code, int) and min_code:
            return min_code, getattr(seen, "gen_message", lambda: str(seen))()
        seen = getattr(seen, "base_error", None) or seen.__cause__ or seen.__context__
    return None, str(exc)


# --- krb5.conf -------------------------------------------------------------------------------------

_config_lock = threading.Lock()
_config_set_by_us: str | None = None


def use_krb5_config(opts: KerberosOptions) -> None:
    """Point this process at the host's ``auditor_krb5_config`` (MIT krb5 reads ``KRB5_CONFIG`` for
    every new context). One file per process: a host naming another one fails with a config error."""
    global _config_set_by_us
    if opts.krb5_config is None:
        return
    path = os.path.abspath(opts.krb5_config)
    with _config_lock:
        if _config_set_by_us is None:
            if not os.path.isfile(path):
                raise KerberosFailure("config", f"{KRB5_CONFIG_VAR}: no such file {path}")
            os.environ["KRB5_CONFIG"] = path
            _config_set_by_us = path
        elif _config_set_by_us != path:
            raise KerberosFailure("config", f"{KRB5_CONFIG_VAR}: this run already uses {_config_set_by_us}; "
                                            f"one krb5.conf per run (merge the realms into one file)")


# --- tickets ---------------------------------------------------------------------------------------

@dataclass
class _Kinit:
    lock: threading.Lock
    ccache: str | None = None
    failure: KerberosFailure | None = None


_kinits: dict[tuple[str, str, bool], _Kinit] = {}
_kinits_lock = threading.Lock()


def ticket_cache(opts: KerberosOptions) -> str | None:
    """The credential cache for ``opts``: a private ``MEMORY:`` cache holding a fresh TGT (managed
    mode, one kinit per process and key), or None for the user's default cache (manual mode).
    Blocking (talks to the KDC): call it from a worker thread. Raises ``KerberosFailure``."""
    use_krb5_config(opts)
    if not opts.managed:
        return None
    assert opts.principal is not None and opts.password is not None
    password = opts.password.reveal()
    key = (opts.principal, hashlib.sha256(password.encode("utf-8", "surrogatepass")).hexdigest(), opts.delegate)
    with _kinits_lock:
        entry = _kinits.setdefault(key, _Kinit(threading.Lock()))
    with entry.lock:
        if entry.failure is not None:
            raise entry.failure
        if entry.ccache is None:
            try:
                entry.ccache = _kinit(opts.principal, password, opts.delegate)
            except Exception as exc:  # noqa: BLE001 - every krb5 failure is classified
                entry.failure = classify_exception(exc, opts)
                raise entry.failure from None
        return entry.ccache


def _kinit(principal: str, password: str, forwardable: bool) -> str:
    import krb5

    ctx = krb5.init_context()
    princ = krb5.parse_name_flags(ctx, principal.encode("utf-8"))
    opt = krb5.get_init_creds_opt_alloc(ctx)
    krb5.get_init_creds_opt_set_canonicalize(opt, True)
    krb5.get_init_creds_opt_set_forwardable(opt, forwardable)
    creds = krb5.get_init_creds_password(ctx, princ, opt, password=password.encode("utf-8", "surrogatepass"))
    cache = krb5.cc_new_unique(ctx, b"MEMORY")
    krb5.cc_initialize(ctx, cache, creds.client)
    krb5.cc_store_cred(ctx, cache, creds)
    _keep.append(cache)  # a MEMORY cache lives while a handle to it is open
    return "MEMORY:" + (cache.name or b"").decode()


_keep: list[object] = []


def forget_tickets() -> None:
    """Drop every managed ticket and the krb5.conf choice (between tests; a new kinit follows on next use)."""
    global _config_set_by_us
    with _kinits_lock:
        _kinits.clear()
        _keep.clear()
    with _config_lock:
        _config_set_by_us = None


def credential(opts: KerberosOptions, ccache: str | None) -> spnego.KerberosCCache | spnego.CredentialCache:
    """The pyspnego credential for a client context: the private cache, or the default one."""
    if ccache is not None:
        return spnego.KerberosCCache(ccache=ccache, principal=opts.principal)
    return spnego.CredentialCache(username=opts.principal)


# --- the service ticket ------------------------------------------------------------------------------

def service_context(opts: KerberosOptions, ccache: str | None, channel_bindings: object = None,
                    delegate: bool = False) -> tuple[object, bytes]:
    """A client context for ``opts.spn`` and its first token (the AP-REQ): blocking, it may ask the KDC
    for the service ticket. Failures are classified; an unknown SPN is looked up once more in the user's
    own realm, which tells a missing SPN from a host name that krb5.conf maps to another realm."""
    import spnego.exceptions

    flags = spnego.ContextReq.default | (spnego.ContextReq.delegate if delegate else 0)
    try:
        ctx = spnego.client(credential(opts, ccache), hostname=opts.spn_host, service=opts.service,
                            channel_bindings=channel_bindings, context_req=flags,  # type: ignore[arg-type]
                            protocol="kerberos")
        return ctx, ctx.step() or b""
    except spnego.exceptions.SpnegoError as exc:
        failure = classify_exception(exc, opts)
    if failure.code == S_PRINCIPAL_UNKNOWN and not opts.by_ip and _spn_in_own_realm(opts, ccache):
        realm = _realm(opts.principal)
        conf = os.environ.get("KRB5_CONFIG") or "/etc/krb5.conf"
        failure = KerberosFailure("config", f"Kerberos: realm/DNS mismatch: {opts.spn} exists in {realm}, but "
                                            f"krb5.conf maps {opts.spn_host} to another realm: fix [domain_realm] "
                                            f"in {conf}", S_PRINCIPAL_UNKNOWN)
    raise failure


def _spn_in_own_realm(opts: KerberosOptions, ccache: str | None) -> bool:
    import gssapi
    import krb5

    realm = opts.principal.rpartition("@")[2] if opts.principal and "@" in opts.principal else \
        krb5.get_default_realm(krb5.init_context()).decode()
    name = gssapi.Name(f"{opts.service}/{opts.spn_host}@{realm}", name_type=gssapi.NameType.kerberos_principal)
    mech = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2")
    try:
        creds = gssapi.Credentials(usage="initiate", mechs=[mech], store={"ccache": ccache} if ccache else None)
        gssapi.SecurityContext(name=name, creds=creds, usage="initiate", mech=mech).step()
    except gssapi.exceptions.GSSError:
        return False
    return True
