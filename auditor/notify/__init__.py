"""Notifications of ``auditor serve``: on transitions only (a host newly regressed, fixed, newly unreachable,
reachable again, a waiver about to expire), to webhooks (generic JSON, Slack, Teams) and SMTP mail, retried
with backoff; a failing receiver never stops a scan; secrets never in a payload. See docs/notify.md."""

from auditor.notify.after_scan import notify_scan, plan_notifications
from auditor.notify.background import Notifier, ledger_path
from auditor.notify.config import (
    DEFAULT_EVENTS,
    NOTIFY_TARGETS,
    EmailSettings,
    EventKind,
    NotifyTarget,
    NotifyTargets,
    RetryPolicy,
    WebhookSettings,
)
from auditor.notify.ledger import WaiverLedger
from auditor.notify.send import DeliveryOptions, DeliveryReport, TargetResult, deliver
from auditor.notify.transitions import HostEvent, Transitions, WaiverEvent, transitions

__all__ = [
    "DEFAULT_EVENTS", "NOTIFY_TARGETS", "DeliveryOptions", "DeliveryReport", "EmailSettings", "EventKind",
    "HostEvent", "Notifier", "NotifyTarget", "NotifyTargets", "RetryPolicy", "TargetResult", "Transitions", "WaiverEvent",
    "WaiverLedger", "WebhookSettings", "deliver", "ledger_path", "notify_scan", "plan_notifications", "transitions",
]
