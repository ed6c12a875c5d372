"""What a receiver is sent: the generic JSON body, the chat text (Slack, Teams: ``{"text": ...}``) and the
mail. Built from ``Transitions`` only, so only host names, verdicts, outcomes, check ids and waiver dates can
reach a payload: never evidence, messages, errors or variables. Every string is made one line with its control
characters shown as escapes (``auditor.textsafe``), cut to a bounded length, and escaped for the chat markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from auditor.notify.config import EmailSettings, EventKind
from auditor.notify.transitions import HostEvent, Transitions, WaiverEvent
from auditor.textsafe import for_terminal

PAYLOAD_SCHEMA_VERSION = "1.0"
MAX_TEXT = 200          # characters of any one string from a host or a file
JSON_MAX_HOSTS = 1000   # host entries in a JSON body; the rest are counted in hosts_total
TEXT_MAX_LINES = 40     # event lines in a chat text or a mail

_TITLE = {EventKind.regressed: "regressed", EventKind.fixed: "fixed", EventKind.unreachable: "newly unreachable",
          EventKind.reachable: "reachable again", EventKind.new: "new", EventKind.gone: "gone",
          EventKind.waiver_expiring: "waivers expiring"}
_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_MARKDOWN = re.compile(r"([\\`*_\[\]~|])")  # the markdown that acts inside a line


def clean(value: object) -> str:
    """A remote string made safe to send: one line, control characters as escapes, bounded."""
    text = for_terminal(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _opt(value: str | None) -> str | None:
    return None if value is None else clean(value)


# --- JSON ---------------------------------------------------------------------------------------------

def json_body(events: Transitions, *, link: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The generic webhook body (docs/notify.md, "The JSON body")."""
    hosts = events.hosts[:JSON_MAX_HOSTS]
    return {
        "schema_version": PAYLOAD_SCHEMA_VERSION,
        "source": "auditor",
        "schedule": clean(events.schedule),
        "run_id": clean(events.run_id),
        "previous_run_id": _opt(events.previous_run_id),
        "generated": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "link": link,
        "counts": events.counts(),
        "hosts_total": len(events.hosts),
        "hosts": [_host_json(h) for h in hosts],
        "waivers": [_waiver_json(w) for w in events.waivers],
    }


def _host_json(h: HostEvent) -> dict[str, Any]:
    return {"host": clean(h.host), "change": h.kind.value,
            "old_verdict": _opt(h.old_verdict), "new_verdict": _opt(h.new_verdict),
            "old_status": _opt(h.old_status), "new_status": _opt(h.new_status),
            "checks": [clean(c) for c in h.checks]}


def _waiver_json(w: WaiverEvent) -> dict[str, Any]:
    return {"check": clean(w.check), "hosts": clean(w.hosts), "expiration_date": w.expiration_date.isoformat(),
            "days_left": w.days_left}


# --- text (chat and mail) -----------------------------------------------------------------------------

class _Markup:
    def __init__(self, escape: Callable[[str], str], bold: Callable[[str], str],
                 link: Callable[[str], str]) -> None:
        self.escape, self.bold, self.link = escape, bold, link


PLAIN = _Markup(lambda s: s, lambda s: s, lambda url: url)
SLACK = _Markup(lambda s: s.translate(_SLACK), lambda s: f"*{s}*", lambda url: f"<{url.translate(_SLACK)}|open the run>")
TEAMS = _Markup(lambda s: _MARKDOWN.sub(r"\\\1", s.translate(_SLACK)), lambda s: f"**{s}**", lambda url: f"[open the run]({url})")
MARKUPS = {"slack": SLACK, "teams": TEAMS, "plain": PLAIN}


def headline(events: Transitions) -> str:
    """``2 regressed, 1 fixed, 1 newly unreachable`` (kinds with events only)."""
    counts = events.counts()
    parts = [f"{counts[k.value]} {_TITLE[k] if k is not EventKind.waiver_expiring or counts[k.value] > 1 else 'waiver expiring'}"
             for k in EventKind if counts[k.value]]
    return ", ".join(parts) or "nothing changed"


def event_lines(events: Transitions, markup: Callable[[str], str] = lambda s: s) -> list[str]:
    """One line per event, worst first; ``markup`` escapes each remote string for the target's syntax."""
    def e(value: object) -> str:
        return markup(clean(value))

    lines = []
    for h in events.hosts:
        tag = _TITLE[h.kind].upper()
        if h.kind in (EventKind.regressed, EventKind.fixed):
            what = f"{e(h.old_verdict or '-')} -> {e(h.new_verdict or '-')} ({e(h.new_status or '-')})"
            if h.checks:
                what += f"; checks {', '.join(e(c) for c in h.checks)}"
        elif h.kind is EventKind.new:
            what = f"{e(h.new_verdict or '-')} ({e(h.new_status or '-')})"
        elif h.kind is EventKind.gone:
            what = f"was {e(h.old_verdict or '-')} ({e(h.old_status or '-')})"
        else:
            what = f"{e(h.old_status or '-')} -> {e(h.new_status or '-')}"
            if h.kind is EventKind.reachable:
                what += f", verdict {e(h.new_verdict or '-')}"
        lines.append(f"{tag} {e(h.host)}: {what}")
    for w in events.waivers:
        days = "today" if w.days_left <= 0 else f"in {w.days_left} day{'s' if w.days_left != 1 else ''}"
        lines.append(f"WAIVER EXPIRING {e(w.check)} (hosts {e(w.hosts)}) on {w.expiration_date.isoformat()}, {days}")
    if len(lines) > TEXT_MAX_LINES:
        more = len(lines) - TEXT_MAX_LINES
        lines = lines[:TEXT_MAX_LINES] + [f"... and {more} more"]
    return lines


def text(events: Transitions, *, style: str = "plain", link: str | None = None) -> str:
    """The whole message as text in a chat's markup (``slack``, ``teams``) or plain."""
    m = MARKUPS[style]
    title = m.bold(f"auditor: schedule {m.escape(clean(events.schedule))}, run {m.escape(clean(events.run_id))}")
    out = [f"{title}: {m.escape(headline(events))}", *event_lines(events, m.escape)]
    if link:
        out.append(m.link(link))
    return "\n".join(out)


def chat_body(events: Transitions, *, style: str, link: str | None = None) -> dict[str, str]:
    """The Slack / Teams incoming-webhook body."""
    return {"text": text(events, style=style, link=link)}


def mail(events: Transitions, settings: EmailSettings, *, link: str | None = None,
         now: datetime | None = None) -> EmailMessage:
    """The plain-text mail for one receiver."""
    msg = EmailMessage()
    msg["Subject"] = f"{settings.subject_prefix} {clean(events.schedule)}: {headline(events)}".strip()
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.to)
    msg["Date"] = format_datetime(now or datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    previous = f" (compared with run {clean(events.previous_run_id)})" if events.previous_run_id else ""
    body = [f"Schedule {clean(events.schedule)}, run {clean(events.run_id)}{previous}: {headline(events)}.", "",
            *event_lines(events)]
    if link:
        body += ["", link]
    body += ["", "-- ", "auditor serve: sent on transitions only; an unchanged failure is not repeated."]
    msg.set_content("\n".join(body) + "\n")
    return msg
