"""WinRM connection options from inventory variables, with Ansible's names and defaults.

Pure: reads ``ConnectionSpec`` (and its ``vars``), returns ``WinrmOptions`` or raises a transport
error whose message names the variable. No I/O, never echoes a secret.
"""

from __future__ import annotations

import importlib.util
import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

from auditor.errors import TransportError, TransportNotAvailable
from auditor.secrets import Secret
from auditor.transports.base import ConnectionRequest, ConnectionSpec

SUPPORTED = ("basic", "ntlm", "certificate", "credssp", "kerberos")
# "negotiate" stays NTLM: Ansible's pywinrm has no Negotiate transport, and a silent Kerberos attempt
# against whatever realm the machine's krb5.conf names is not something an audit should do unasked.
_ALIASES = {"plaintext": "basic", "ssl": "certificate", "negotiate": "ntlm"}
ALLOW_BASIC_HTTP = "auditor_winrm_allow_basic_http"
RETRIES = "auditor_winrm_retries"
CLIENT = "auditor_winrm_client"
CLIENTS = ("native", "pywinrm")


WinrmAuth = Literal["basic", "ntlm", "certificate", "credssp", "kerberos"]


class WinrmConfigError(TransportError):
    """An inventory variable for WinRM has a value that cannot be used."""


@dataclass(frozen=True)
class KerberosOptions:
    """How a host authenticates with Kerberos (see ``kerberos_options``)."""

    principal: str | None            # user@REALM; None: the ticket cache's own principal (manual mode)
    password: Secret | None          # for managed kinit only (a Secret: never printed, never in a pickled plan)
    managed: bool                    # kinit here (into a private cache) vs use the existing ticket cache
    delegate: bool                   # forwardable ticket + delegation flag (second hop)
    spn_host: str                    # host part of the service principal <service>/<spn_host>
    service: str                     # service class of the principal, "HTTP" as Windows registers it
    krb5_config: str | None          # a krb5.conf to use instead of the system's (KRB5_CONFIG)
    send_cbt: bool                   # channel binding over HTTPS

    @property
    def spn(self) -> str:
        return f"{self.service}/{self.spn_host}"

    @property
    def by_ip(self) -> bool:
        """The SPN names an IP address: domains register none for addresses, so Kerberos will fail."""
        return _is_ip(self.spn_host)


@dataclass(frozen=True)
class WinrmOptions:
    scheme: str
    port: int
    path: str
    auth: WinrmAuth
    cert_validation: Literal["validate", "ignore"]
    ca_trust_path: str | None
    message_encryption: Literal["auto", "always", "never"]
    operation_timeout: int
    read_timeout: int
    cert_pem: str | None
    cert_key_pem: str | None
    retries: int
    client: Literal["native", "pywinrm"] = "native"
    kerberos: KerberosOptions | None = None   # set when auth == "kerberos"
    credssp_mechanism: Literal["ntlm", "kerberos"] = "ntlm"  # CredSSP's inner authentication

    def endpoint(self, host: str) -> str:
        h = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{h}:{self.port}{self.path}"


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on", "y")


def _int(v: dict[str, Any], name: str, default: int, minimum: int = 1) -> int:
    raw = v.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise WinrmConfigError(f"{name} must be a whole number of seconds, got {str(raw)[:40]!r}") from None
    if value < minimum:
        raise WinrmConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _choice(v: dict[str, Any], name: str, default: str, allowed: tuple[str, ...]) -> Any:  # one of ``allowed``
    value = str(v.get(name) or default).strip().lower()
    if value not in allowed:
        raise WinrmConfigError(f"{name} must be one of {', '.join(allowed)}, got {value[:40]!r}")
    return value


def _auth(v: dict[str, Any]) -> Any:  # a WinrmAuth name
    raw = v.get("ansible_winrm_transport") or "ntlm"
    names = raw if isinstance(raw, list) else str(raw).split(",")
    wanted = [_ALIASES.get(str(n).strip().lower(), str(n).strip().lower()) for n in names if str(n).strip()]
    for name in wanted:
        if name not in SUPPORTED:
            raise WinrmConfigError(
                f"ansible_winrm_transport {name!r} is not a WinRM auth method (expected one of {', '.join(SUPPORTED)})")
    usable = [n for n in wanted if _available(n)]
    if not usable:
        missing = wanted[0] if wanted else "ntlm"
        raise TransportNotAvailable(
            f"WinRM auth {missing!r} is not available on this machine (Kerberos needs pyspnego's kerberos "
            f"extra: python-gssapi and krb5, built against libkrb5-dev; scripts/setup.sh installs them)")
    return usable[0]


def _available(name: str) -> bool:
    if name == "kerberos":  # pyspnego's kerberos extra: python-gssapi and krb5 (built against libkrb5)
        return all(importlib.util.find_spec(m) is not None for m in ("gssapi", "krb5"))
    return True  # CredSSP: pyspnego's own (the pywinrm engine also needs requests-credssp)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


# --- Kerberos options ----------------------------------------------------------------------------
# Every Kerberos-specific inventory variable is read here and only here (docs/winrm.md, "Kerberos"):
#   ansible_user / ansible_password           user@REALM and, for managed kinit, its password
#   ansible_winrm_kinit_mode                  managed (default when a password is given) | manual
#   ansible_winrm_kerberos_delegation         true: forwardable ticket, delegated to the host
#   ansible_winrm_kerberos_hostname_override  the host name in the service principal
#   ansible_winrm_service                     the service class of the principal (default HTTP)
#   ansible_winrm_send_cbt                    channel binding over HTTPS (default true)
#   auditor_krb5_config                       a krb5.conf for this run (sets KRB5_CONFIG)
KRB5_CONFIG_VAR = "auditor_krb5_config"


def spn_host(spec: ConnectionRequest | ConnectionSpec, override: Any = None) -> str:
    """The host name Kerberos asks a ticket for: the override, else ``ansible_host`` when it is a name,
    else the inventory name when that is one (an address has no service principal), else the address."""
    if override not in (None, ""):
        return str(override).strip()
    for candidate in (spec.host, spec.name):
        if candidate and not _is_ip(candidate):
            return candidate
    return spec.host


def kerberos_options(spec: ConnectionRequest) -> KerberosOptions:
    v = spec.vars
    user = spec.user or None
    if user and "\\" in user:
        raise WinrmConfigError(f"Kerberos needs ansible_user as user@REALM, got a DOMAIN\\user name ({user[:60]!r})")
    password = spec.password if spec.password not in (None, "") else None
    mode = _choice(v, "ansible_winrm_kinit_mode", "managed" if password else "manual", ("managed", "manual"))
    if mode == "managed" and (not user or password is None):
        raise WinrmConfigError("ansible_winrm_kinit_mode=managed needs ansible_user (user@REALM) and ansible_password")
    service = str(v.get("ansible_winrm_service") or "HTTP").strip()
    conf = v.get(KRB5_CONFIG_VAR)
    return KerberosOptions(
        principal=user, password=Secret(password) if mode == "managed" and password is not None else None,
        managed=mode == "managed",
        delegate=_truthy(v.get("ansible_winrm_kerberos_delegation", False)),
        spn_host=spn_host(spec, v.get("ansible_winrm_kerberos_hostname_override")), service=service,
        krb5_config=str(conf) if conf not in (None, "") else None,
        send_cbt=_truthy(v.get("ansible_winrm_send_cbt", True)),
    )


def credssp_mechanism(spec: ConnectionRequest) -> Any:  # "ntlm" | "kerberos"
    """CredSSP's inner authentication (``ansible_winrm_credssp_auth_mechanism``, pywinrm's option): auto
    means Kerberos for a user@REALM account, NTLM otherwise (never a Kerberos attempt the user did not imply)."""
    value = _choice(spec.vars, "ansible_winrm_credssp_auth_mechanism", "auto", ("auto", "ntlm", "kerberos"))
    if value == "auto":
        return "kerberos" if spec.user and "@" in spec.user else "ntlm"
    return value


def winrm_options(spec: ConnectionRequest) -> WinrmOptions:
    v = spec.vars
    auth = _auth(v)
    port_raw = v.get("ansible_winrm_port") or spec.port or v.get("ansible_port")
    try:
        port = int(port_raw) if port_raw not in (None, "") else 5986
    except (TypeError, ValueError):
        raise WinrmConfigError(f"ansible_port must be a number, got {str(port_raw)[:40]!r}") from None
    if not 0 < port < 65536:
        raise WinrmConfigError(f"ansible_port must be 1-65535, got {port}")
    scheme = _choice(v, "ansible_winrm_scheme", "http" if port == 5985 else "https", ("http", "https"))
    path = str(v.get("ansible_winrm_path") or "/wsman")
    if not path.startswith("/"):
        path = "/" + path
    op = _int(v, "ansible_winrm_operation_timeout_sec", 20)
    read = _int(v, "ansible_winrm_read_timeout_sec", 30)
    if read <= op:
        raise WinrmConfigError(
            f"ansible_winrm_read_timeout_sec ({read}) must exceed ansible_winrm_operation_timeout_sec ({op})")
    if auth == "basic" and scheme == "http" and not _truthy(v.get(ALLOW_BASIC_HTTP, False)):
        raise WinrmConfigError(
            f"refusing Basic auth over plain HTTP to {spec.host}:{port}: the password would cross the network "
            f"in clear text. Use ansible_winrm_scheme=https or ansible_winrm_transport=ntlm, or set "
            f"{ALLOW_BASIC_HTTP}: true for this host")
    cert_pem = str(v["ansible_winrm_cert_pem"]) if v.get("ansible_winrm_cert_pem") else None
    cert_key = str(v["ansible_winrm_cert_key_pem"]) if v.get("ansible_winrm_cert_key_pem") else None
    if auth == "certificate" and not (cert_pem and cert_key):
        raise WinrmConfigError(
            "ansible_winrm_transport=certificate needs ansible_winrm_cert_pem and ansible_winrm_cert_key_pem")
    if auth == "certificate" and scheme != "https":
        raise WinrmConfigError("certificate authentication needs ansible_winrm_scheme=https")
    if auth not in ("certificate", "kerberos") and (not spec.user or spec.password is None):
        raise WinrmConfigError(f"WinRM {auth} authentication needs ansible_user and ansible_password")
    retries = min(_int(v, RETRIES, 2, minimum=0), 10)
    client = _choice(v, CLIENT, "native", CLIENTS)
    if auth == "credssp" and client == "pywinrm" and importlib.util.find_spec("requests_credssp") is None:
        raise TransportNotAvailable("CredSSP with auditor_winrm_client=pywinrm needs requests-credssp "
                                    "(the native client has CredSSP built in)")
    return WinrmOptions(
        scheme=scheme, port=port, path=path, auth=auth,
        cert_validation=_choice(v, "ansible_winrm_server_cert_validation", "validate", ("validate", "ignore")),
        ca_trust_path=str(v["ansible_winrm_ca_trust_path"]) if v.get("ansible_winrm_ca_trust_path") else None,
        message_encryption=_choice(v, "ansible_winrm_message_encryption", "auto", ("auto", "always", "never")),
        operation_timeout=op, read_timeout=read, cert_pem=cert_pem, cert_key_pem=cert_key,
        retries=retries, client=client,
        kerberos=kerberos_options(spec) if auth == "kerberos" else None,
        credssp_mechanism=credssp_mechanism(spec) if auth == "credssp" else "ntlm",
    )


def resolved_winrm(spec: ConnectionSpec) -> WinrmOptions:
    """The WinRM options resolved into ``spec`` at plan time."""
    if spec.winrm is None:
        raise WinrmConfigError(f"{spec.name}: no WinRM options were resolved for this host (connection {spec.connection})")
    return spec.winrm
