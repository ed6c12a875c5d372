"""``auditor schedule export``: the config's schedules for the OS scheduler instead of ``auditor serve``.

systemd: one ``auditor-scan-NAME.service`` (oneshot; exit codes 2 and 3 are findings, not a failed unit) and one
``.timer`` per schedule (``OnCalendar=`` in the schedule's time zone or ``OnUnitActiveSec=``,
``RandomizedDelaySec=`` from the jitter, ``Persistent=false``: a scan missed while the machine was off is skipped,
as ``auditor serve`` does, never run late). cron: crontab lines (``CRON_TZ``), under ``flock -n`` so a scan never
overlaps itself, with a random sleep for the jitter.
"""

from __future__ import annotations

import re
import shlex
from typing import Literal

from auditor.errors import BadInputError, Location
from auditor.serve.config import LoadedConfig, Schedule
from auditor.serve.scans import scan_command

ExportFormat = Literal["systemd", "cron"]
_DOW = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_DOW_NAMES = {n.lower(): i for i, n in enumerate(_DOW[:7])}


def export(loaded: LoadedConfig, store_url: str, fmt: ExportFormat) -> str:
    if not loaded.config.schedules:
        raise BadInputError("the config has no schedules to export", Location(str(loaded.path)))
    printable: str | None = store_url
    head = ""
    if _has_password(store_url):  # never printed: the units read it from the environment
        printable = None
        head = ("# The store URL holds a password, so it is not written here: give the scans AUDITOR_STORE=<url> "
                + ("in /etc/auditor/store.env (mode 0600; EnvironmentFile= below)\n" if fmt == "systemd"
                   else "in the crontab's environment or a file it sources\n"))
    parts = [systemd_units(loaded, s, printable) if fmt == "systemd" else cron_lines(loaded, s, printable)
             for s in loaded.config.schedules]
    return head + "\n".join(parts)


def _has_password(url: str) -> bool:
    from auditor.store.urls import parse_store_url

    try:
        return parse_store_url(url).password is not None
    except Exception:  # noqa: BLE001 - an unparsable URL is the scan's error to report; do not print it either
        return True


def _systemd_quote(argv: list[str]) -> str:
    # systemd's ExecStart= takes C-style double quotes; '%' is its specifier character and '$' its variables
    def one(arg: str) -> str:
        arg = arg.replace("%", "%%").replace("$", "$$")
        if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", arg):
            return arg
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return " ".join(one(a) for a in argv)


def systemd_units(loaded: LoadedConfig, schedule: Schedule, store_url: str | None) -> str:
    unit = f"auditor-scan-{schedule.name}"
    argv = scan_command(loaded, schedule, store_url)
    if schedule.cron is not None:
        when = f"OnCalendar={on_calendar(schedule.cron)} {schedule.timezone}\nPersistent=false"
    else:
        assert schedule.interval is not None
        seconds = int(schedule.interval.total_seconds())
        when = f"OnActiveSec={seconds}s\nOnUnitActiveSec={seconds}s"
    jitter = f"\nRandomizedDelaySec={schedule.jitter_seconds}s" if schedule.jitter_seconds else ""
    return (f"# ---- {unit}.service\n[Unit]\nDescription=auditor scheduled scan {schedule.name}\n"
            f"After=network-online.target\nWants=network-online.target\n\n[Service]\nType=oneshot\n"
            f"WorkingDirectory={loaded.base}\n" + ("" if store_url else "EnvironmentFile=/etc/auditor/store.env\n")
            + f"ExecStart={_systemd_quote(argv)}\n"
            "# 2: hosts need action, 3: hosts unreachable -- findings, not a failed scan\nSuccessExitStatus=2 3\n\n"
            f"# ---- {unit}.timer\n[Unit]\nDescription=Start the auditor scan {schedule.name}\n\n[Timer]\n{when}{jitter}\n"
            f"Unit={unit}.service\n\n[Install]\nWantedBy=timers.target\n")


def cron_lines(loaded: LoadedConfig, schedule: Schedule, store_url: str | None) -> str:
    argv = scan_command(loaded, schedule, store_url)
    lock = f"/tmp/auditor-scan-{schedule.name}.lock"
    command = f"flock -n {shlex.quote(lock)} " + " ".join(shlex.quote(a) for a in argv)
    if schedule.jitter_seconds:
        command = f"sleep $(shuf -i 0-{schedule.jitter_seconds} -n 1) && {command}"
    command = command.replace("%", "\\%")  # cron turns a bare % into a newline
    if schedule.cron is not None:
        return f"# auditor scan {schedule.name}\nCRON_TZ={schedule.timezone}\n{schedule.cron} {command}\n"
    return f"# auditor scan {schedule.name} (every {schedule.every})\n{interval_cron(schedule)} {command}\n"


def interval_cron(schedule: Schedule) -> str:
    assert schedule.interval is not None
    minutes, rest = divmod(int(schedule.interval.total_seconds()), 60)
    if rest or minutes == 0:
        raise BadInputError(f"schedule {schedule.name!r}: every {schedule.every} cannot be written for cron, which "
                            "starts jobs on whole minutes; use --format systemd or a cron expression")
    if minutes < 60 and 60 % minutes == 0:
        return f"*/{minutes} * * * *" if minutes > 1 else "* * * * *"
    hours, rest = divmod(minutes, 60)
    if not rest and hours < 24 and 24 % hours == 0:
        return f"0 */{hours} * * *" if hours > 1 else "0 * * * *"
    if not rest and hours == 24:
        return "0 0 * * *"
    raise BadInputError(f"schedule {schedule.name!r}: every {schedule.every} does not divide an hour or a day, so "
                        "cron cannot express it; use --format systemd or a cron expression")


def on_calendar(cron: str) -> str:
    """A 5-field cron expression as a systemd calendar event (``0 7 * * 1-5`` -> ``Mon..Fri *-*-* 07:00:00``)."""
    minute, hour, day, month, dow = cron.split()
    date = f"*-{_field(month, 2)}-{_field(day, 2)}"
    time = f"{_field(hour, 2)}:{_field(minute, 2)}:00"
    return (f"{_dow(dow)} " if dow != "*" else "") + f"{date} {time}"


def _field(value: str, width: int = 1) -> str:
    out = []
    for part in value.split(","):
        if part == "*":
            out.append("*")
        elif part.startswith("*/"):
            out.append(f"{0:0{width}d}/{part[2:]}")
        elif "/" in part:
            start, step = part.split("/", 1)
            out.append(f"{_field(start, width)}/{step}")
        elif "-" in part:
            a, b = part.split("-", 1)
            out.append(f"{int(a):0{width}d}..{int(b):0{width}d}")
        else:
            out.append(f"{int(part):0{width}d}")
    return ",".join(out)


def _dow(value: str) -> str:
    def name(v: str) -> str:
        return _DOW[int(v)] if v.isdigit() else _DOW[_DOW_NAMES[v.lower()[:3]]]

    out = []
    for part in value.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            out.append(f"{name(a)}..{name(b)}")
        else:
            out.append(name(part))
    return ",".join(out)
