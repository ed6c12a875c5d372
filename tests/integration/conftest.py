"""Fixtures shared by integration tests: real SSH servers (see tests/sshd_fixtures.py)."""

from tests.sshd_fixtures import openssh_server, openssh_target, ssh_lab  # noqa: F401  (pytest fixtures)
from tests.integration.kerberos_lab import kdc  # noqa: E402,F401  (the session's lab KDC)
