"""auditor: a fleet auditor for the WSL2 mirrored-networking / Docker Desktop conflict."""

__version__ = "0.1.0"
