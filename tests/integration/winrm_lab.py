"""Shared helpers for the WinRM integration tests: a private loopback /24 per fleet."""

from __future__ import annotations

import random
from typing import Any

from auditor.lab.winrs import WinrsEndpoint
from auditor.inventory.connection import resolve_spec
from auditor.transports.base import ConnectionRequest, ConnectionSpec


def private_network() -> str:
    """A random 127.x.y.0/24, so concurrent test runs (and `auditor lab serve`) never share an address."""
    return f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24"


_ENDPOINT = object()


def winrm_spec(ep: WinrsEndpoint, connect_timeout: float = 3.0, command_timeout: float = 6.0, *,
               user: Any = _ENDPOINT, password: Any = _ENDPOINT, name: str | None = None, **extra: Any) -> ConnectionSpec:
    """A ConnectionSpec for ``ep`` as the inventory would give it (short WinRM timeouts for tests)."""
    vars_: dict[str, Any] = {
        "ansible_connection": "winrm", "ansible_port": ep.port, "ansible_winrm_scheme": ep.scheme,
        "ansible_winrm_transport": "ntlm", "ansible_winrm_operation_timeout_sec": 1,
        "ansible_winrm_read_timeout_sec": 2,
    }
    if ep.ca_path:
        vars_["ansible_winrm_ca_trust_path"] = ep.ca_path
    vars_.update(extra)
    vars_ = {k: v for k, v in vars_.items() if v is not None}
    return resolve_spec(ConnectionRequest(name=name or ep.name, host=ep.address, connection="winrm", port=ep.port,
                                          user=ep.user if user is _ENDPOINT else user,
                                          password=ep.password if password is _ENDPOINT else password,
                                          connect_timeout=connect_timeout,
                                          command_timeout=command_timeout, vars=vars_))
