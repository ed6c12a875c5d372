"""Before forking workers, the parent imports the transports the plans use (and only those)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from auditor.inventory.model import Host
from auditor.plan import HostPlan
from auditor.transports.base import ConnectionSpec
from auditor.workers import transport_modules


def _plan(name: str, connection: str) -> HostPlan:
    return HostPlan(Host(name), ConnectionSpec(name=name, host="127.0.0.1", connection=connection), "linux")


def test_modules_are_those_of_the_plans_connections_once_each():
    plans = [_plan("a", "ssh"), _plan("b", "winrm"), _plan("c", "ssh"), _plan("d", "made-up")]
    assert transport_modules(plans) == ["auditor.transports.ssh", "auditor.transports.winrm"]
    assert transport_modules([_plan("e", "local")]) == ["auditor.transports.local"]
    assert transport_modules([]) == []


def test_preload_imports_what_the_plans_use_and_nothing_else():
    # a fresh interpreter: this test process may already hold asyncssh from other tests
    code = textwrap.dedent("""
        import sys
        from auditor.inventory.model import Host
        from auditor.plan import HostPlan
        from auditor.transports.base import ConnectionSpec
        from auditor.workers import preload_transports
        assert "auditor.transports.local" not in sys.modules
        preload_transports([HostPlan(Host("a"), ConnectionSpec(name="a", host="127.0.0.1", connection="local"), "linux")])
        print("local" if "auditor.transports.local" in sys.modules else "-", "asyncssh" in sys.modules,
              "auditor.transports.winrm" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["local", "False", "False"]
