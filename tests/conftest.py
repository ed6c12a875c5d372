"""Every test process records history into its own throwaway store, never the user's
(~/.local/share/auditor/history.db): the CLI records by default."""

from __future__ import annotations

import os
import tempfile

_DATA_HOME = tempfile.mkdtemp(prefix="auditor-test-data-")
os.environ["XDG_DATA_HOME"] = _DATA_HOME  # inherited by the CLI processes the tests start
os.environ.pop("AUDITOR_STORE", None)
