"""The simulated fleet (the embedded default): WinRS and SSH servers on loopback whose hosts answer the
shipped collectors as real machines in a given state would (docs/lab.md).

* ``auditor.lab.winrs`` / ``auditor.lab.sshd``: the servers.
* ``auditor.lab.models``: mutable host models (Windows developer machines, edge nodes).
* ``auditor.lab.scenarios``: scenario files (one host + its expected verdict) and the shipped library.
* ``auditor.lab.generator``: seeded fleets of any size; ``auditor.lab.fleet``: start/stop + inventory.
* ``auditor.lab.cli``: ``auditor lab serve`` and ``auditor demo``.
"""
