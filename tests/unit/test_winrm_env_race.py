"""requests' temporary no_proxy juggling must not race across the WinRM pool threads."""

from __future__ import annotations

import os
import sys
import threading

import requests.utils


def test_concurrent_proxy_lookups_never_raise_once_the_transport_is_loaded():
    import auditor.transports.winrm_pywinrm  # noqa: F401 - importing defines no_proxy

    assert "no_proxy" in os.environ
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def lookups() -> None:
        start.wait()
        for _ in range(2000):
            try:
                requests.utils.should_bypass_proxies("http://127.0.1.1:5985/wsman", no_proxy="*")
            except BaseException as exc:  # noqa: BLE001 - the race shows up as KeyError
                errors.append(exc)

    # Switching threads every microsecond makes the race show (KeyError within a few thousand lookups
    # when no_proxy is undefined); with the transport's default it never does.
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=lookups) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert "no_proxy" in os.environ
