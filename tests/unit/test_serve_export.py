"""`auditor schedule export`: cron fields as systemd calendar events, intervals as cron lines, and the units."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from auditor.errors import BadInputError
from auditor.serve.config import load_serve_config
from auditor.serve.export import export, interval_cron, on_calendar


@pytest.mark.parametrize("cron, expected", [
    ("0 7 * * 1-5", "Mon..Fri *-*-* 07:00:00"),
    ("*/15 * * * *", "*-*-* *:00/15:00"),
    ("30 2 1,15 * *", "*-*-01,15 02:30:00"),
    ("0 0 * 1-3 sun", "Sun *-01..03-* 00:00:00"),
    ("5 4 * * 0,6", "Sun,Sat *-*-* 04:05:00"),
    ("0 9-17/2 * * 7", "Sun *-*-* 09..17/2:00:00"),
])
def test_cron_fields_become_systemd_calendar_events(cron: str, expected: str) -> None:
    assert on_calendar(cron) == expected
    if shutil.which("systemd-analyze"):  # where systemd is installed, it must accept the event as written
        checked = subprocess.run(["systemd-analyze", "calendar", expected], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0 and "Next elapse:" in checked.stdout, checked.stdout + checked.stderr


def _config(tmp_path: Path, **schedule: object) -> Path:
    path = tmp_path / "serve.yml"
    path.write_text(yaml.safe_dump({"store": "sqlite:////var/lib/auditor/h.db", "schedules": [
        {"name": "fleet", "playbooks": ["p.yml"], "inventory": ["i.yml"], **schedule}]}))
    return path


@pytest.mark.parametrize("every, expected", [("15m", "*/15 * * * *"), ("1m", "* * * * *"), ("6h", "0 */6 * * *"),
                                             ("1h", "0 * * * *"), ("1d", "0 0 * * *")])
def test_intervals_cron_can_express(tmp_path: Path, every: str, expected: str) -> None:
    loaded = load_serve_config(_config(tmp_path, every=every))
    assert interval_cron(loaded.config.schedules[0]) == expected


@pytest.mark.parametrize("every", ["30s", "7m", "5h", "2d"])
def test_intervals_cron_cannot_express_are_refused(tmp_path: Path, every: str) -> None:
    loaded = load_serve_config(_config(tmp_path, every=every))
    with pytest.raises(BadInputError, match="cron"):
        interval_cron(loaded.config.schedules[0])


def test_systemd_units_carry_the_scan_command_timer_and_jitter(tmp_path: Path) -> None:
    loaded = load_serve_config(_config(tmp_path, cron="0 7 * * 1-5", timezone="Europe/Berlin", jitter="10m",
                                       waiver_file="w 1.yml"))
    text = export(loaded, "sqlite:////var/lib/auditor/h.db", "systemd")
    assert "# ---- auditor-scan-fleet.service" in text and "# ---- auditor-scan-fleet.timer" in text
    assert "OnCalendar=Mon..Fri *-*-* 07:00:00 Europe/Berlin" in text
    assert "Persistent=false" in text and "RandomizedDelaySec=600s" in text and "SuccessExitStatus=2 3" in text
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert f" -m auditor run {tmp_path / 'p.yml'} -i {tmp_path / 'i.yml'} " in exec_start
    assert f'--waiver-file "{tmp_path / "w 1.yml"}"' in exec_start and "--run-id" not in exec_start


def test_cron_lines_lock_against_overlap_and_sleep_for_jitter(tmp_path: Path) -> None:
    loaded = load_serve_config(_config(tmp_path, every="15m", jitter="30s"))
    text = export(loaded, "sqlite:////var/lib/auditor/h.db", "cron")
    line = text.splitlines()[-1]
    assert line.startswith("*/15 * * * * sleep $(shuf -i 0-30 -n 1) && flock -n /tmp/auditor-scan-fleet.lock ")
    assert " -m auditor run " in line


@pytest.mark.parametrize("fmt", ["systemd", "cron"])
def test_a_store_password_is_never_printed(tmp_path: Path, fmt: str) -> None:
    loaded = load_serve_config(_config(tmp_path, every="15m"))
    text = export(loaded, "postgresql://auditor:pa55w0rd-secret@db.example/auditor", fmt)  # type: ignore[arg-type]
    assert "pa55w0rd-secret" not in text and "--store" not in text
    assert text.startswith("# The store URL holds a password") and "AUDITOR_STORE=<url>" in text
    if fmt == "systemd":
        assert "EnvironmentFile=/etc/auditor/store.env" in text
    plain = export(loaded, "sqlite:////var/lib/auditor/h.db", fmt)  # type: ignore[arg-type]
    assert "--store sqlite:////var/lib/auditor/h.db" in plain and "EnvironmentFile" not in plain
