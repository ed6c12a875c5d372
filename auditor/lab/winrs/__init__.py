"""A WS-Management (WinRS) server simulating a fleet of Windows hosts, for tests, demos and benchmarks.

Public API::

    from auditor.lab.winrs import WinrsFleet, WinrsHostConfig, Faults, WindowsHostModel, CommandOutcome

    async with WinrsFleet([WinrsHostConfig("win01", model=MyModel("WIN01"))]) as fleet:
        fleet.endpoints          # [WinrsEndpoint(name, address, port, scheme, user, password, ...)]
        fleet.write_inventory("lab.yml")
"""

from auditor.lab.winrs.fleet import WinrsEndpoint, WinrsFleet, lab_hosts, start_winrs_fleet
from auditor.lab.winrs.model import CommandOutcome, WindowsHostModel
from auditor.lab.winrs.server import Faults, WinrsHostConfig

__all__ = [
    "CommandOutcome", "Faults", "WindowsHostModel", "WinrsEndpoint", "WinrsFleet", "WinrsHostConfig",
    "lab_hosts", "start_winrs_fleet",
]
