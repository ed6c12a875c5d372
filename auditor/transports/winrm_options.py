"""WinRM connection options from inventory variables, with Ansible's names and defaults.

Pure: reads ``ConnectionSpec`` (and its ``vars``), returns ``WinrmOptions`` or raises a transport
error whose message names the variable. No I/O, never echoes a secret.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Literal

from auditor.errors import TransportError, TransportNotAvailable
from auditor.transports.base import ConnectionRequest, ConnectionSpec

SUPPORTED = ("basic", "ntlm", "certificate", "credssp", "kerberos")
_ALIASES = {"plaintext": "basic", "ssl": "certificate", "negotiate": "ntlm"}
ALLOW_BASIC_HTTP = "auditor_winrm_allow_basic_http"
RETRIES = "auditor_winrm_retries"
CLIENT = "auditor_winrm_client"
CLIENTS = ("native", "pywinrm")


WinrmAuth = Literal["basic", "ntlm", "certificate", "credssp", "kerberos"]


class WinrmConfigError(TransportError):
    """An inventory variable for WinRM has a value that cannot be used."""


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
    client: Literal["native", "pywinrm"] = "native"  # CredSSP always uses pywinrm

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
            f"WinRM auth {missing!r} is not available on this machine"
            + (" (Kerberos needs pykerberos/gssapi, which are not installed)" if missing == "kerberos"
               else " (install requests-credssp)" if missing == "credssp" else ""))
    return usable[0]


def _available(name: str) -> bool:
    if name == "kerberos":
        return False  # pywinrm's Kerberos needs pykerberos + a krb5 setup: not supported yet
    if name == "credssp":
        return importlib.util.find_spec("requests_credssp") is not None
    return True


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
    if auth != "certificate" and (not spec.user or spec.password is None):
        raise WinrmConfigError(f"WinRM {auth} authentication needs ansible_user and ansible_password")
    retries = min(_int(v, RETRIES, 2, minimum=0), 10)
    return WinrmOptions(
        scheme=scheme, port=port, path=path, auth=auth,
        cert_validation=_choice(v, "ansible_winrm_server_cert_validation", "validate", ("validate", "ignore")),
        ca_trust_path=str(v["ansible_winrm_ca_trust_path"]) if v.get("ansible_winrm_ca_trust_path") else None,
        message_encryption=_choice(v, "ansible_winrm_message_encryption", "auto", ("auto", "always", "never")),
        operation_timeout=op, read_timeout=read, cert_pem=cert_pem, cert_key_pem=cert_key,
        retries=retries,
        client="pywinrm" if auth == "credssp" else _choice(v, CLIENT, "native", CLIENTS),
    )


def resolved_winrm(spec: ConnectionSpec) -> WinrmOptions:
    """The WinRM options resolved into ``spec`` at plan time."""
    if spec.winrm is None:
        raise WinrmConfigError(f"{spec.name}: no WinRM options were resolved for this host (connection {spec.connection})")
    return spec.winrm
