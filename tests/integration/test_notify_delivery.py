"""Notifications end to end with real receivers on loopback: two stored scans in a real SQLite store give
exactly one message per receiver with exactly the transitions (an unchanged failure and a host down twice
give nothing, a third identical scan sends nothing); retries with backoff; a receiver that always fails or
hangs is reported, never raised; TLS verified by default; mail over a real SMTP server with STARTTLS and
AUTH; no secret in any payload or log line."""

from __future__ import annotations

import logging
import ssl
import threading
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import pytest

from auditor.lab.winrs.certs import generate_lab_certs
from auditor.notify import (
    NOTIFY_TARGETS,
    DeliveryOptions,
    EventKind,
    NotifyTarget,
    WaiverLedger,
    deliver,
    notify_scan,
)
from auditor.notify.background import Notifier, ledger_path
from auditor.notify.transitions import HostEvent, Transitions
from auditor.results import HostResult, HostStatus, RunResult
from auditor.store import open_store
from auditor.store.store import Store
from auditor.waivers import load_waivers
from tests.notify_receivers import Answer, HttpRecorder, MailRecorder, smtp_server
from tests.report_factory import HOSTILE_NAME, SECRET_VALUE, make_host, make_hostile_host, make_run

pytestmark = pytest.mark.integration
FAST = {"attempts": 3, "backoff": 0}
TOKEN = "T0KEN-in-the-url-path-9f8e7d"


def targets(*entries: dict) -> list[NotifyTarget]:
    return NOTIFY_TARGETS.validate_python(entries)


def _replace(run: RunResult, host: HostResult) -> None:
    run.hosts = [host if h.name == host.name else h for h in run.hosts]


def two_scans() -> tuple[RunResult, RunResult, dict[str, EventKind]]:
    """Scan 1 and scan 2 of one fleet (16 hosts, one hostile), and the event each changed host must give.
    Unchanged in scan 2: the conflicted win-00000 (failing in both), the down win-00012 (down in both)."""
    old = make_run(16, hostile=True, run_id="scan-1")
    hostile_before = make_hostile_host(15)
    assert hostile_before.plays[0].verdict is not None
    hostile_before.plays[0].verdict.name = "HEALTHY_NAT"
    _replace(old, hostile_before)
    new = make_run(16, hostile=True, run_id="scan-2")
    new.started = old.started + timedelta(hours=6)
    _replace(new, make_host(3, "windows", "CONFLICT_CONFIRMED", None))     # HEALTHY_NAT -> conflict
    _replace(new, make_host(2, "windows", "HEALTHY_NAT", None))            # AT_RISK_LATENT -> healthy
    _replace(new, make_host(10, "linux", None, HostStatus.unreachable))  # EDGE_OK -> down
    _replace(new, make_host(13, "linux", "EDGE_OK", None))                 # auth_failed -> reachable
    expect = {"win-00003": EventKind.regressed, HOSTILE_NAME: EventKind.regressed, "win-00002": EventKind.fixed,
              "edge-00010": EventKind.unreachable, "edge-00013": EventKind.reachable}
    return old, new, expect


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(f"sqlite:///{tmp_path / 'history.db'}")
    old, new, _ = two_scans()
    s.import_run(old)
    s.import_run(new)
    yield s
    s.close()


def test_one_message_per_receiver_with_exactly_the_transitions(store: Store, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="auditor.notify")
    _, new, expect = two_scans()
    (tmp_path / "slack.url").write_text("")  # filled in below, once the receiver's port is known
    (tmp_path / "auth").write_text("Bearer hook-secret-value-42\n")
    with HttpRecorder().running() as generic, HttpRecorder().running() as chat:
        (tmp_path / "slack.url").write_text(chat.url(f"/services/{TOKEN}") + "\n")
        hooks = targets({"webhook": {"url": generic.url("/generic"), "header_files": {"Authorization": str(tmp_path / "auth")},
                                     "headers": {"X-Fleet": "corp"}, "retry": FAST}},
                        {"webhook": {"url_file": str(tmp_path / "slack.url"), "format": "slack", "retry": FAST}})
        report = notify_scan(store, "scan-2", hooks, schedule="nightly", previous_run_id="scan-1",
                             options=DeliveryOptions(link="http://127.0.0.1:8765/runs/scan-2"))
        assert report.ok and [r.attempts for r in report.results] == [1, 1]
        assert len(generic.received) == 1 and len(chat.received) == 1
        body = generic.received[0].json()
        got = {h["host"]: h["change"] for h in body["hosts"]}
        assert len(body["hosts"]) == len(got)  # one entry per host
        assert set(got) == {n.replace("\x1b", "\\x1b") for n in expect}  # the hostile name has no control chars
        assert all(got[n] == expect[n].value for n in expect)
        assert body["counts"] == {"regressed": 2, "fixed": 1, "unreachable": 1, "reachable": 1, "new": 0, "gone": 0,
                                  "waiver_expiring": 0}
        assert (body["schedule"], body["run_id"], body["previous_run_id"]) == ("nightly", "scan-2", "scan-1")
        regressed = next(h for h in body["hosts"] if h["host"] == "win-00003")
        assert regressed["old_verdict"] == "HEALTHY_NAT" and regressed["new_verdict"] == "CONFLICT_CONFIRMED"
        assert "W-NET-01" in regressed["checks"] and regressed["new_status"] == "failed"
        assert generic.received[0].headers["authorization"] == "Bearer hook-secret-value-42"
        assert generic.received[0].headers["x-fleet"] == "corp"
        assert generic.received[0].headers["content-type"] == "application/json"
        assert chat.received[0].path == f"/services/{TOKEN}"
        text = chat.received[0].json()["text"]
        assert text.startswith("*auditor: schedule nightly, run scan-2*: 2 regressed, 1 fixed, 1 newly unreachable")
        assert "&lt;script&gt;" in text and "<script>" not in text and text.endswith("|open the run>")
        for received in (*generic.received, *chat.received):
            payload = received.body.decode()
            assert SECRET_VALUE not in payload and "Connection refused" not in payload
            assert "win-00000" not in payload and "win-00012" not in payload  # unchanged failure, down twice
        assert TOKEN not in caplog.text and "hook-secret-value-42" not in caplog.text
        assert "sent 5 event(s) to webhook 127.0.0.1:" in caplog.text

        # a third scan like the second: no transition, nothing sent
        third = new.model_copy(update={"run_id": "scan-3", "started": new.started + timedelta(hours=6)})
        store.import_run(third)
        again = notify_scan(store, "scan-3", hooks, schedule="nightly", previous_run_id="scan-2")
        assert again.results == [] and len(generic.received) == 1 and len(chat.received) == 1
        # the first scan of a schedule is the baseline: nothing to compare with, nothing sent
        assert notify_scan(store, "scan-1", hooks, schedule="nightly", previous_run_id=None).results == []
        assert len(generic.received) == 1


def test_per_event_receivers_and_on_filters(store: Store) -> None:
    with HttpRecorder().running() as per_event, HttpRecorder().running() as only_down:
        hooks = targets({"webhook": {"url": per_event.url(), "per_event": True, "retry": FAST}},
                        {"webhook": {"url": only_down.url(), "events": ["unreachable"], "retry": FAST}})
        report = notify_scan(store, "scan-2", hooks, schedule="nightly", previous_run_id="scan-1")
        assert report.ok and [r.events for r in report.results] == [5, 1]
        bodies = [r.json() for r in per_event.received]
        assert len(bodies) == 5 and all(len(b["hosts"]) == 1 for b in bodies)  # exactly one webhook per transition
        assert sorted(b["hosts"][0]["change"] for b in bodies) == ["fixed", "reachable", "regressed", "regressed",
                                                                  "unreachable"]
        assert [h["host"] for h in only_down.received[0].json()["hosts"]] == ["edge-00010"]


def test_a_receiver_that_fails_twice_then_succeeds_gets_the_same_message_three_times(store: Store) -> None:
    script = [Answer(503), Answer(429, {"Retry-After": "0"})]
    with HttpRecorder(script).running() as flaky:
        report = notify_scan(store, "scan-2", targets({"webhook": {"url": flaky.url(), "retry": FAST}}),
                             schedule="nightly", previous_run_id="scan-1")
        assert report.ok and report.results[0].attempts == 3 and report.results[0].error is None
        assert len(flaky.received) == 3 and len({r.body for r in flaky.received}) == 1


def test_failing_receivers_are_reported_never_raised_and_others_still_get_theirs(store: Store, caplog) -> None:
    events = Transitions(schedule="nightly", run_id="scan-2", hosts=[
        HostEvent(kind=EventKind.regressed, host="win-00003", old_status="ok", new_status="failed")])
    with HttpRecorder(default=Answer(500)).running() as broken, HttpRecorder(default=Answer(404)).running() as gone, \
            HttpRecorder(default=Answer(hang=True)).running() as stuck, HttpRecorder().running() as good:
        closed = HttpRecorder()
        closed_url = closed.url(f"/x/{TOKEN}")
        closed.server.server_close()  # nothing listens there any more: connection refused
        hooks = targets({"webhook": {"url": broken.url(f"/a/{TOKEN}"), "retry": FAST}},
                        {"webhook": {"url": gone.url(), "retry": FAST}},
                        {"webhook": {"url": stuck.url(), "timeout": "200ms", "retry": {"attempts": 2, "backoff": 0}}},
                        {"webhook": {"url": closed_url, "retry": FAST}},
                        {"webhook": {"url": good.url(), "retry": FAST}})
        report = deliver(events, hooks)
        by = {r.target: r for r in report.results}
        assert not report.ok and len(report.failed) == 4
        broken_r, gone_r, stuck_r, closed_r, good_r = report.results
        assert (broken_r.ok, broken_r.attempts, broken_r.error) == (False, 3, "HTTP 500") and len(broken.received) == 3
        assert (gone_r.attempts, gone_r.error) == (1, "HTTP 404") and len(gone.received) == 1  # permanent: no retry
        assert stuck_r.attempts == 2 and stuck_r.error is not None and stuck_r.error.startswith("timed out")
        assert closed_r.attempts == 3 and closed_r.error is not None and "ConnectError" in closed_r.error
        assert good_r.ok and len(good.received) == 1
        assert len(by) == 5
    lines = [r for r in caplog.records if r.name == "auditor.notify" and r.levelno == logging.WARNING]
    assert len(lines) == 4 and all(r.exc_info is None for r in lines)
    assert TOKEN not in caplog.text and "/a/" not in caplog.text


def test_a_stop_event_ends_the_waits_between_tries() -> None:
    events = Transitions(schedule="s", run_id="r", hosts=[HostEvent(kind=EventKind.fixed, host="h")])
    stop = threading.Event()
    stop.set()
    with HttpRecorder(default=Answer(503)).running() as broken:
        report = deliver(events, targets({"webhook": {"url": broken.url(), "retry": {"attempts": 5, "backoff": "1h"}}}),
                         options=DeliveryOptions(stop=stop))
    assert report.results[0].attempts == 1 and "stopped before the next try" in (report.results[0].error or "")


@pytest.fixture
def certs(tmp_path: Path):
    return generate_lab_certs(tmp_path / "pki", ["127.0.0.1"], ["localhost"], "client")


def server_tls(certs) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    return context


def test_https_certificates_are_verified_by_default(certs) -> None:
    events = Transitions(schedule="s", run_id="r", hosts=[HostEvent(kind=EventKind.fixed, host="h")])
    with HttpRecorder(tls=server_tls(certs)).running() as secure:
        untrusted = deliver(events, targets({"webhook": {"url": secure.url(), "retry": FAST}}))
        assert untrusted.results[0].attempts == 1  # a certificate that does not verify is not tried again
        assert untrusted.results[0].error == "the server's certificate did not verify (see ca_file)"
        assert secure.received == []
        trusted = deliver(events, targets({"webhook": {"url": secure.url(), "ca_file": str(certs.ca), "retry": FAST}}))
        assert trusted.ok and len(secure.received) == 1
        insecure = deliver(events, targets({"webhook": {"url": secure.url(), "verify_tls": False, "retry": FAST}}))
        assert insecure.ok and len(secure.received) == 2


def _mail(content: bytes) -> Message:
    return message_from_bytes(content, policy=policy.default)


def test_mail_over_starttls_with_login_after_a_deferral(store: Store, certs, tmp_path: Path, caplog) -> None:
    handler = MailRecorder(defer=1)
    (tmp_path / "smtp.pass").write_text("s3cret-smtp-pass\n")
    with smtp_server(handler, tls_context=server_tls(certs), require_starttls=True, authenticator=handler.authenticator,
                     auth_require_tls=True) as server:
        email = {"smtp_host": "127.0.0.1", "smtp_port": server.port, "ca_file": str(certs.ca),
                 "username": "auditor", "password_file": str(tmp_path / "smtp.pass"),
                 "from": "auditor@corp.example", "to": ["ops@corp.example", "sec@corp.example"],
                 "subject_prefix": "[fleet]", "retry": FAST}
        report = notify_scan(store, "scan-2", targets({"email": email}), schedule="nightly", previous_run_id="scan-1")
        assert report.ok and report.results[0].attempts == 2  # 451 first, then accepted
        assert handler.logins == [("auditor", "s3cret-smtp-pass")] * 2
        (mail,) = handler.mails
        assert mail.mail_from == "auditor@corp.example" and mail.rcpt_tos == ["ops@corp.example", "sec@corp.example"]
        assert mail.login == "auditor"
        msg = _mail(mail.content)
        assert str(msg["Subject"]).strip() == "[fleet] nightly: 2 regressed, 1 fixed, 1 newly unreachable, 1 reachable again"
        body = msg.get_body().get_content()  # type: ignore[union-attr]
        assert "REGRESSED win-00003: HEALTHY_NAT -> CONFLICT_CONFIRMED (failed)" in body
        assert "UNREACHABLE edge-00010: ok -> unreachable" in body and "win-00000" not in body
        assert SECRET_VALUE not in body and "\x1b" not in body

        # a wrong password is permanent: one try, and the password is in no log line
        (tmp_path / "smtp.pass").write_text("wrong-password-123\n")
        denied = notify_scan(store, "scan-2", targets({"email": email}), schedule="nightly", previous_run_id="scan-1")
        assert not denied.ok and denied.results[0].attempts == 1
        assert denied.results[0].error == "SMTP 535: the server rejected the credentials"
    assert "wrong-password-123" not in caplog.text and "s3cret-smtp-pass" not in caplog.text


def test_mail_never_logs_in_without_starttls_when_it_is_required(store: Store, tmp_path: Path) -> None:
    handler = MailRecorder()
    (tmp_path / "smtp.pass").write_text("s3cret-smtp-pass")
    with smtp_server(handler, authenticator=handler.authenticator, auth_require_tls=False) as server:
        email = {"smtp_host": "127.0.0.1", "smtp_port": server.port, "username": "auditor",
                 "password_file": str(tmp_path / "smtp.pass"), "from": "a@corp.example", "to": ["b@corp.example"],
                 "retry": FAST}
        report = notify_scan(store, "scan-2", targets({"email": email}), schedule="nightly", previous_run_id="scan-1")
        assert not report.ok and report.results[0].attempts == 1 and "STARTTLS" in (report.results[0].error or "")
        assert handler.logins == [] and handler.mails == []
        plain = notify_scan(store, "scan-2", targets({"email": {**email, "starttls": False, "username": None,
                                                                "password_file": None}}),
                            schedule="nightly", previous_run_id="scan-1")
        assert plain.ok and len(handler.mails) == 1


def test_a_waiver_nearing_its_end_is_announced_once(store: Store, tmp_path: Path) -> None:
    today = date.today()
    (tmp_path / "waivers.yml").write_text(
        f"W-CFG-02:\n  justification: lab machines need mirrored mode\n  expiration_date: {today + timedelta(days=6)}\n"
        f"  hosts: windows\nW-OS-01:\n  justification: permanent\n"
        f"W-NET-02:\n  justification: later\n  expiration_date: {today + timedelta(days=40)}\n")
    waivers = load_waivers(tmp_path / "waivers.yml")
    ledger = WaiverLedger(tmp_path / "state" / "nightly.json")
    with HttpRecorder(script=[Answer(500)] * 3).running() as hook:
        only = targets({"webhook": {"url": hook.url(), "events": ["waiver_expiring"], "retry": FAST}})
        failed = notify_scan(store, "scan-2", only, schedule="nightly", previous_run_id="scan-1", waivers=waivers,
                             ledger=ledger)
        assert not failed.ok and ledger.announced() == frozenset()  # no receiver took it: announced next time
        sent = notify_scan(store, "scan-2", only, schedule="nightly", previous_run_id="scan-1", waivers=waivers,
                           ledger=ledger)
        assert sent.ok and len(hook.received) == 4
        assert hook.received[-1].json()["waivers"] == [{"check": "W-CFG-02", "hosts": "windows", "days_left": 6,
                                                        "expiration_date": (today + timedelta(days=6)).isoformat()}]
        assert "lab machines" not in hook.received[-1].body.decode()  # the justification is not sent
        restarted = WaiverLedger(tmp_path / "state" / "nightly.json")
        again = notify_scan(store, "scan-2", only, schedule="nightly", previous_run_id="scan-1", waivers=waivers,
                            ledger=restarted)
        assert all(r.skipped for r in again.results) and len(hook.received) == 4


def test_mail_over_implicit_tls(certs) -> None:
    handler = MailRecorder()
    events = Transitions(schedule="s", run_id="r", hosts=[HostEvent(kind=EventKind.fixed, host="h")])
    with smtp_server(handler, ssl_context=server_tls(certs)) as server:
        email = {"smtp_host": "127.0.0.1", "smtp_port": server.port, "tls": True, "starttls": False,
                 "from": "a@corp.example", "to": ["b@corp.example"], "retry": FAST}
        untrusted = deliver(events, targets({"email": email}))
        assert untrusted.results[0].attempts == 1 and "certificate did not verify" in (untrusted.results[0].error or "")
        trusted = deliver(events, targets({"email": {**email, "ca_file": str(certs.ca)}}))
        assert trusted.ok and len(handler.mails) == 1


def test_the_notifier_sends_off_the_callers_thread_and_close_ends_the_backoff(store: Store, tmp_path: Path) -> None:
    notifier = Notifier(tmp_path / "state")
    with HttpRecorder(script=[Answer(hang=True)], default=Answer(503)).running() as hook:
        hooks = targets({"webhook": {"url": hook.url(), "retry": {"attempts": 5, "backoff": "1h"}}})
        future = notifier.submit(store, "scan-2", hooks, schedule="nightly / main", previous_run_id="scan-1")
        hook.wait_for(1)
        assert not future.done()  # the receiver holds the request: the caller already has its thread back
        notifier.close(wait=False)
        hook.release.set()         # the receiver drops the connection: a transient failure, then the 1 h wait...
        report = future.result(timeout=120)  # ...which the stop event ends at once
    assert not report.ok and report.results[0].attempts == 1
    assert "stopped before the next try" in (report.results[0].error or "")
    assert notifier.submit(store, "scan-2", hooks, schedule="x", previous_run_id="scan-1").result().results == []
    assert ledger_path(tmp_path, "nightly / main").name.startswith("notify-nightly_main-")
    assert ledger_path(tmp_path, "a/b") != ledger_path(tmp_path, "a_b")
