"""Installed from a wheel, in a fresh virtual environment, `auditor demo` works from any folder: the playbooks,
collector scripts, scenarios, templates and migrations ship inside the package."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_a_wheel_installs_and_runs_the_demo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    wheel = next(dist.glob("auditor-*.whl"))
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True,
                             timeout=900)
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"  # not the checkout: nothing may be found relative to it
    elsewhere.mkdir()
    demo = subprocess.run([str(env_dir / "bin" / "auditor"), "demo", "--hosts", "12", "-o", "out", "--report", "json,html", "-q"],
                          cwd=elsewhere, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")})
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    reports = sorted((elsewhere / "out").glob("*.json"))
    assert reports and any((elsewhere / "out").glob("*.html"))
    data = json.loads(reports[0].read_text())
    assert len(data["hosts"]) == 12 and {p["id"] for p in data["playbooks"]} == {"mirrored-mode", "edge-nodes"}
    import auditor

    assert not str(auditor.__file__).startswith(str(env_dir))  # the test process is not the installed copy
