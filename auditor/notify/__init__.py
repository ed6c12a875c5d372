"""Notifications of ``auditor serve``: on transitions only (a host newly regressed, fixed, newly unreachable,
reachable again, a waiver about to expire), to webhooks (generic JSON, Slack, Teams) and SMTP mail, retried
with backoff; a failing receiver never stops a scan; secrets never in a payload. See docs/notify.md."""
