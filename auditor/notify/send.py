"""Delivery: each receiver is sent the events it asked for (its ``events:``), tried again with bounded exponential
backoff, in parallel with the other receivers. A receiver that fails is one log line (logger
``auditor.notify``: its label, never a URL's path or a password) and one entry of the report; nothing here
raises to the caller, so a broken receiver never stops a scan.

Transient failures are tried again (connection refused or reset, timeouts, HTTP 408/425/429/5xx, SMTP 4xx);
permanent ones end the receiver's delivery at once (HTTP 4xx, a redirect, a certificate that does not verify,
SMTP 5xx, rejected credentials, an unreadable url_file, password_file or header file).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from pathlib import Path

import httpx

from auditor import __version__
from auditor.notify.config import EmailSettings, EventKind, NotifyTarget, RetryPolicy, WebhookSettings, check_url
from auditor.notify.payloads import chat_body, clean, json_body, mail
from auditor.notify.transitions import Transitions

log = logging.getLogger("auditor.notify")
_RETRY_HTTP = frozenset({408, 425, 429})
_MAX_PARALLEL = 8
_MIN_SCRUB = 4
PER_EVENT_MAX = 50  # a receiver with per_event gets at most this many messages per scan (else one)


@dataclass(frozen=True)
class DeliveryOptions:
    link: str | None = None                 # a URL of the run on the dashboard, put in every message
    stop: threading.Event | None = None     # set it to end the waits between tries (shutdown)
    now: datetime | None = None             # the messages' timestamp (tests)


@dataclass
class TargetResult:
    target: str                              # the receiver's label (NotifyTarget.label)
    ok: bool
    attempts: int = 0
    events: int = 0                          # events sent (after the receiver's events: filter)
    kinds: frozenset[EventKind] = frozenset()
    error: str | None = None                 # one line, no secret

    @property
    def skipped(self) -> bool:
        """Nothing for this receiver in this scan: not contacted."""
        return self.attempts == 0 and self.ok


@dataclass
class DeliveryReport:
    results: list[TargetResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> list[TargetResult]:
        return [r for r in self.results if not r.ok]

    def accepted(self, kind: EventKind) -> bool:
        """True when some receiver took a message with events of ``kind``."""
        return any(r.ok and r.attempts and kind in r.kinds for r in self.results)


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Permanent(Exception):
    pass


def deliver(events: Transitions, targets: Sequence[NotifyTarget], *,
            options: DeliveryOptions | None = None) -> DeliveryReport:
    """Send ``events`` to every receiver that wants some of them; never raises. Blocks until each receiver
    succeeded or gave up (at most its retry policy's tries and waits); receivers are served in parallel."""
    options = options or DeliveryOptions()
    try:
        if not targets:
            return DeliveryReport()
        with ThreadPoolExecutor(max_workers=min(len(targets), _MAX_PARALLEL),
                                thread_name_prefix="auditor-notify") as pool:
            results = list(pool.map(lambda t: _deliver_one(events, t, options), targets))
        return DeliveryReport(results)
    except Exception as exc:  # noqa: BLE001  (a bug here must not stop the scans either)
        log.error("notify: delivery failed: %s: %s", type(exc).__name__, clean(exc))
        return DeliveryReport([TargetResult(clean(t.label), ok=False, error=f"internal error: {type(exc).__name__}")
                               for t in targets])


def _deliver_one(events: Transitions, target: NotifyTarget, options: DeliveryOptions) -> TargetResult:
    label = clean(target.label)
    receiver = target.receiver
    mine = events.only(receiver.events)
    if mine.empty:
        return TargetResult(label, ok=True)
    kinds = frozenset(h.kind for h in mine.hosts) | frozenset(w.kind for w in mine.waivers)
    count = len(mine.hosts) + len(mine.waivers)
    messages = mine.split() if receiver.per_event and count <= PER_EVENT_MAX else [mine]
    secrets: list[str] = []
    ok, attempts, error = True, 0, None
    for message in messages:
        try:
            if target.webhook is not None:
                send = _webhook(target.webhook, message, options, secrets)
            else:
                assert target.email is not None
                send = _email(target.email, message, options, secrets)
            sent, tries, error = _with_retries(send, receiver.retry, options.stop)
        except _Permanent as exc:
            sent, tries, error = False, 1, str(exc)
        except Exception as exc:  # noqa: BLE001
            sent, tries, error = False, 1, f"internal error: {type(exc).__name__}"
        attempts += tries
        if not sent:
            ok = False
            break  # the receiver is failing: the rest of this scan's messages would fail the same way
    if error is not None:
        error = _scrub(error, secrets)
    if ok:
        log.info("notify: sent %d event(s) to %s (%d tr%s)", count, label, attempts, "y" if attempts == 1 else "ies")
    else:
        log.warning("notify: %s failed after %d tr%s: %s; scans go on", label, attempts,
                    "y" if attempts == 1 else "ies", error)
    return TargetResult(label, ok=ok, attempts=attempts, events=count, kinds=kinds, error=error)


def _with_retries(send: Callable[[], None], policy: RetryPolicy,
                  stop: threading.Event | None) -> tuple[bool, int, str | None]:
    delays = policy.delays()
    waiter = stop or threading.Event()
    error: str | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            send()
            return True, attempt, None
        except _Permanent as exc:
            return False, attempt, str(exc)
        except _Transient as exc:
            error = str(exc)
            if attempt == policy.attempts:
                break
            wait = delays[attempt - 1]
            if exc.retry_after is not None:
                wait = max(wait, min(exc.retry_after, policy.backoff_max))
            log.debug("notify: try %d failed (%s); next in %.1f s", attempt, error, wait)
            if waiter.wait(wait):
                return False, attempt, f"{error} (stopped before the next try)"
    return False, policy.attempts, error


def _scrub(text: str, secrets: list[str]) -> str:
    for value in sorted(secrets, key=len, reverse=True):
        if len(value) >= _MIN_SCRUB:
            text = text.replace(value, "***")
    return clean(text)


def _read_secret_file(path: Path, what: str, secrets: list[str]) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise _Permanent(f"cannot read {what} {clean(path)}: {type(exc).__name__}") from None
    if not value:
        raise _Permanent(f"{what} {clean(path)} is empty")
    secrets.append(value)
    return value


def _tls(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
    """Certificates and host names verified (against ``ca_file`` if given) unless ``verify`` is off."""
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise _Permanent(f"cannot load ca_file {clean(ca_file)}: {type(exc).__name__}") from None


def _cert_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# --- webhooks -----------------------------------------------------------------------------------------

def _webhook(settings: WebhookSettings, events: Transitions, options: DeliveryOptions,
             secrets: list[str]) -> Callable[[], None]:
    if settings.url is not None:
        url = settings.url
    else:
        assert settings.url_file is not None
        url = _read_secret_file(settings.url_file, "url_file", secrets)
        try:
            url = check_url(url)
        except ValueError as exc:
            raise _Permanent(f"url_file {clean(settings.url_file)}: {exc}") from None
    secrets.append(url)
    headers = {"User-Agent": f"auditor/{__version__}", **settings.headers}
    for name, path in settings.header_files.items():
        headers[name] = _read_secret_file(path, f"header file for {name}", secrets)
    if settings.format == "json":
        body: object = json_body(events, link=options.link, now=options.now)
    else:
        body = chat_body(events, style=settings.format, link=options.link)
    verify = _tls(settings.verify_tls, settings.ca_file)

    def send() -> None:
        try:
            with httpx.Client(verify=verify, timeout=settings.timeout, follow_redirects=False) as client, \
                    client.stream("POST", url, json=body, headers=headers) as response:
                status = response.status_code  # the answer's body is never read: it can be anything
                retry_after = response.headers.get("Retry-After")
        except httpx.TimeoutException as exc:
            raise _Transient(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            if _cert_failure(exc):
                raise _Permanent("the server's certificate did not verify (see ca_file)") from None
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        if 200 <= status < 300:
            return
        if status in _RETRY_HTTP or status >= 500:
            raise _Transient(f"HTTP {status}", _retry_after(retry_after))
        if 300 <= status < 400:
            raise _Permanent(f"HTTP {status}: redirects are not followed (give the final URL)")
        raise _Permanent(f"HTTP {status}")

    return send


def _retry_after(value: str | None) -> float | None:
    """``Retry-After``: seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


# --- mail ---------------------------------------------------------------------------------------------

def _email(settings: EmailSettings, events: Transitions, options: DeliveryOptions,
           secrets: list[str]) -> Callable[[], None]:
    password = None
    if settings.password_file is not None:
        password = _read_secret_file(settings.password_file, "password_file", secrets)
    message = mail(events, settings, link=options.link, now=options.now)
    context = _tls(settings.verify_tls, settings.ca_file)

    def send() -> None:
        try:
            smtp = (smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.timeout, context=context)
                    if settings.tls else smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout))
            with smtp:
                smtp.ehlo()
                if settings.starttls:
                    smtp.starttls(context=context)  # SMTPNotSupportedError when not offered: never log in in clear
                    smtp.ehlo()
                if settings.username is not None and password is not None:
                    smtp.login(settings.username, password)
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise _Permanent(f"SMTP {exc.smtp_code}: the server rejected the credentials") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise _Permanent(f"the server does not support it: {exc}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise _Permanent(f"every recipient was refused ({len(exc.recipients)})") from None
        except smtplib.SMTPResponseException as exc:
            reason = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if 500 <= exc.smtp_code < 600:
                raise _Permanent(reason) from None
            raise _Transient(reason) from None
        except (smtplib.SMTPException, OSError) as exc:
            if _cert_failure(exc):
                raise _Permanent("the server's certificate did not verify (see ca_file)") from None
            raise _Transient(f"{type(exc).__name__}: {exc}") from None

    return send
