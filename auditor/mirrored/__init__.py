"""The mirrored-mode domain: parsers, derivers and verdict rules for WSL2 mirrored networking vs Docker.

Importing this package registers everything the shipped playbooks name (``mirrored.*``).
"""

from auditor.mirrored import catalogue, docker, edge, linuxnet, remediation, verdicts, winaudit, windows, wslexe  # noqa: F401  (registration side effects)
