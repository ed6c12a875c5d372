"""Payloads carry names, verdicts, outcomes and check ids only: no secret, no control character, no markup
that a chat would interpret; and the config refuses secrets inline."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from auditor.notify.config import NOTIFY_TARGETS, EmailSettings, EventKind, NotifyTargets, RetryPolicy, parse_seconds
from auditor.playbook.yamlpos import load_positioned, validation_error
from auditor.notify.payloads import JSON_MAX_HOSTS, TEXT_MAX_LINES, chat_body, json_body, mail, text
from auditor.notify.transitions import HostEvent, Transitions, WaiverEvent

NOW = datetime(2026, 12, 4, 21, 0, tzinfo=timezone.utc)
HOSTILE = "evil\x1b]0;pwned\x07<script>x</script>*bold* [a](http://x)\u202e"


def events(hosts: list[HostEvent] | None = None) -> Transitions:
    return Transitions(
        schedule="nightly", run_id="run-2", previous_run_id="run-1",
        hosts=hosts if hosts is not None else [
            HostEvent(kind=EventKind.regressed, host="win-00003", old_status="ok", new_status="failed",
                      old_verdict="HEALTHY_NAT", new_verdict="CONFLICT_CONFIRMED", checks=["W-NET-01"]),
            HostEvent(kind=EventKind.fixed, host="win-00000", old_status="failed", new_status="ok",
                      old_verdict="CONFLICT_CONFIRMED", new_verdict="HEALTHY_NAT"),
            HostEvent(kind=EventKind.unreachable, host="edge-00009", old_status="ok", new_status="unreachable",
                      old_verdict="EDGE_OK"),
            HostEvent(kind=EventKind.regressed, host=HOSTILE, old_status="ok", new_status="failed",
                      old_verdict="HEALTHY_NAT", new_verdict="CONFLICT_CONFIRMED"),
        ],
        waivers=[WaiverEvent(check="W-CFG-02", hosts="lab", expiration_date=date(2026, 12, 10), days_left=6)])


def test_the_json_body_has_its_documented_shape() -> None:
    body = json_body(events(), link="http://127.0.0.1:8765/runs/run-2", now=NOW)
    assert body["schema_version"] == "1.0" and body["schedule"] == "nightly"
    assert (body["run_id"], body["previous_run_id"], body["generated"]) == ("run-2", "run-1", "2026-12-04T21:00:00+00:00")
    assert body["counts"] == {"regressed": 2, "fixed": 1, "unreachable": 1, "reachable": 0, "new": 0, "gone": 0,
                              "waiver_expiring": 1}
    assert body["hosts"][0] == {"host": "win-00003", "change": "regressed", "old_verdict": "HEALTHY_NAT",
                                "new_verdict": "CONFLICT_CONFIRMED", "old_status": "ok", "new_status": "failed",
                                "checks": ["W-NET-01"]}
    assert body["waivers"] == [{"check": "W-CFG-02", "hosts": "lab", "expiration_date": "2026-12-10", "days_left": 6}]
    json.dumps(body)


def test_no_control_character_reaches_any_payload() -> None:
    e = events()
    settings = EmailSettings.model_validate({"smtp_host": "127.0.0.1", "from": "a@corp.example", "to": ["b@corp.example"]})
    outputs = [json.dumps(json_body(e, now=NOW), ensure_ascii=False), text(e, style="slack"), text(e, style="teams"),
               text(e), mail(e, settings, now=NOW).as_string()]
    for out in outputs:
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        assert "\\x1b" in out or "\\\\x1b" in out  # shown, not dropped silently
    assert json_body(e, now=NOW)["hosts"][3]["host"].startswith("evil\\x1b]0;pwned\\x07<script>")


def test_chat_markup_from_a_host_is_escaped() -> None:
    slack = chat_body(events(), style="slack", link="http://127.0.0.1:8765/runs/run-2")["text"]
    assert "<script>" not in slack and "&lt;script&gt;" in slack
    assert slack.endswith("<http://127.0.0.1:8765/runs/run-2|open the run>")
    assert slack.startswith("*auditor: schedule nightly, run run-2*: 2 regressed, 1 fixed, 1 newly unreachable, 1 waiver expiring")
    teams = chat_body(events(), style="teams")["text"]
    assert "\\*bold\\* \\[a\\](http://x)" in teams and "&lt;script&gt;" in teams
    assert "REGRESSED win-00003: HEALTHY\\_NAT -> CONFLICT\\_CONFIRMED (failed); checks W-NET-01" in teams


def test_long_lists_are_bounded() -> None:
    many = [HostEvent(kind=EventKind.unreachable, host=f"h{i:05d}", old_status="ok", new_status="unreachable")
            for i in range(JSON_MAX_HOSTS + 5)]
    body = json_body(events(many), now=NOW)
    assert len(body["hosts"]) == JSON_MAX_HOSTS and body["hosts_total"] == JSON_MAX_HOSTS + 5
    lines = text(events(many)).splitlines()
    assert len(lines) == 1 + TEXT_MAX_LINES + 1 and lines[-1] == f"... and {JSON_MAX_HOSTS + 5 + 1 - TEXT_MAX_LINES} more"
    assert len(json_body(events([many[0].model_copy(update={"host": "x" * 5000})]))["hosts"][0]["host"]) == 200


def test_the_mail_subject_and_body() -> None:
    settings = EmailSettings.model_validate({"smtp_host": "127.0.0.1", "from": "auditor@corp.example",
                                             "to": ["ops@corp.example", "sec@corp.example"], "subject_prefix": "[fleet]"})
    msg = mail(events(), settings, now=NOW)
    assert msg["Subject"] == "[fleet] nightly: 2 regressed, 1 fixed, 1 newly unreachable, 1 waiver expiring"
    assert msg["To"] == "ops@corp.example, sec@corp.example" and msg["Auto-Submitted"] == "auto-generated"
    body = msg.get_content()
    assert "WAIVER EXPIRING W-CFG-02 (hosts lab) on 2026-12-10, in 6 days" in body
    assert "UNREACHABLE edge-00009: ok -> unreachable" in body


# --- config -----------------------------------------------------------------------------------------------

def error_of(doc: object) -> tuple[tuple[object, ...], str]:
    with pytest.raises(ValidationError) as info:
        NOTIFY_TARGETS.validate_python(doc)
    err = info.value.errors()[0]
    return tuple(err["loc"]), err["msg"]


@pytest.mark.parametrize("doc, loc, needle", [
    ([{"webhook": {"url": "ftp://hooks.example/x"}}], (0, "webhook", "url"), "http:// or https://"),
    ([{"webhook": {"url": "https://user:pw@hooks.example/x"}}], (0, "webhook", "url"), "credentials in the URL"),
    ([{"webhook": {"url": "https://hooks.example/x", "headers": {"Authorization": "Bearer x"}}}], (0, "webhook", "headers"),
     "header_files"),
    ([{"webhook": {"url": "https://hooks.example/x", "url_file": "/x"}}], (0, "webhook"), "exactly one of url and url_file"),
    ([{"webhook": {"url": "https://hooks.example/x", "format": "html"}}], (0, "webhook", "format"), "'json'"),
    ([{"webhook": {"url": "https://hooks.example/x", "timeout": "soon"}}], (0, "webhook", "timeout"), "duration"),
    ([{"webhook": {"url": "https://hooks.example/x", "events": ["regressed", "flapping"]}}], (0, "webhook", "events", 1), "regressed"),
    ([{"webhook": {"url": "https://hooks.example/x", "retry": {"attempts": 50}}}], (0, "webhook", "retry", "attempts"), "10"),
    ([{"webhook": {"url": "https://hooks.example/x", "verify": False}}], (0, "webhook", "verify"), "Extra inputs"),
    ([{"email": {"smtp_host": "smtp", "from": "a@b.example", "to": ["c@d.example"], "password": "hunter22"}}], (0, "email"),
     "password_file"),
    ([{"email": {"smtp_host": "smtp", "from": "a@b.example", "to": ["c@d.example"], "username": "u"}}], (0, "email"),
     "go together"),
    ([{"email": {"smtp_host": "smtp", "from": "a@b.example", "to": ["c@d.example"], "tls": True}}], (0, "email"), "exclude"),
    ([{"email": {"smtp_host": "smtp", "from": "a@b.example", "to": ["c@d.example"], "starttls": False, "username": "u",
                 "password_file": "/p"}}], (0, "email"), "never sent in clear"),
    ([{"email": {"smtp_host": "smtp", "from": "a@b.example", "to": ["not an address"]}}], (0, "email", "to"), "mail address"),
    ([{"email": {"smtp_host": "smtp", "from": "a@b.example", "to": []}}], (0, "email", "to"), "at least 1"),
    ([{"webhook": {"url": "https://h.example/"}, "email": {"smtp_host": "s", "from": "a@b.example", "to": ["c@d.example"]}}],
     (0,), "exactly one"),
    ([{}], (0,), "exactly one"),
])
def test_config_errors_point_at_the_key(doc: object, loc: tuple[object, ...], needle: str) -> None:
    got_loc, msg = error_of(doc)
    assert got_loc == loc and needle in msg, (got_loc, msg)
    assert "hunter22" not in msg


def test_config_defaults() -> None:
    hook, email = NOTIFY_TARGETS.validate_python([
        {"webhook": {"url": "https://hooks.example:8443/services/T0/B0/SECRETPART"}},
        {"email": {"smtp_host": "smtp.corp.example", "from": "a@corp.example", "to": ["b@corp.example"],
                   "username": "auditor", "password_file": "/etc/auditor/smtp.pass", "timeout": "1m30s"}}])
    assert hook.webhook is not None and hook.webhook.format == "json" and hook.webhook.verify_tls is True
    assert hook.webhook.timeout == 10 and hook.webhook.retry.delays() == [2.0, 4.0, 8.0]
    assert [k.value for k in hook.webhook.events] == ["regressed", "fixed", "unreachable", "reachable", "waiver_expiring"]
    assert hook.label == "webhook hooks.example:8443"  # never the path, which holds the token
    assert email.email is not None and email.email.starttls and email.email.smtp_port == 587 and email.email.timeout == 90
    assert email.label == "email smtp.corp.example:587"
    assert RetryPolicy(attempts=6, backoff=1, factor=3, backoff_max=20).delays() == [1, 3, 9, 20, 20]
    assert parse_seconds("250ms") == 0.25 and parse_seconds(3) == 3.0


class _Schedule(BaseModel):
    model_config = ConfigDict(extra="allow")
    notify: NotifyTargets = []


class _Serve(BaseModel):
    schedules: list[_Schedule]


def test_the_documented_example_loads_through_the_projects_yaml_reader() -> None:
    doc_text = (Path(__file__).resolve().parents[2] / "docs" / "notify.md").read_text()
    example = doc_text.split("```yaml\n", 1)[1].split("```", 1)[0]
    serve = _Serve.model_validate(load_positioned(example, "serve.yml").data)
    hooks = serve.schedules[0].notify
    assert [t.label for t in hooks] == ["webhook alerts.corp.example", "webhook /etc/auditor/slack.url",
                                        "email smtp.corp.example:587"]
    assert hooks[1].webhook is not None and [e.value for e in hooks[1].webhook.events] == ["regressed", "unreachable",
                                                                                            "waiver_expiring"]
    assert hooks[2].email is not None and hooks[2].email.retry.delays() == [30, 60, 120, 240, 480]


def test_a_mistake_is_reported_at_its_line_and_column() -> None:
    text = ("schedules:\n  - name: nightly\n    notify:\n      - webhook:\n          url: https://h.example/x\n"
            "          timeout: soon\n")
    doc = load_positioned(text, "serve.yml")
    with pytest.raises(ValidationError) as info:
        _Serve.model_validate(doc.data)
    error = validation_error(info.value, doc)
    assert str(error.location) == "serve.yml:6:20" and "duration" in error.message


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    from auditor.notify.send import _retry_after

    assert _retry_after("120") == 120 and _retry_after(None) is None and _retry_after("soon") is None
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: now
