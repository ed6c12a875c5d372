"""One finished host -> the rows the store keeps: scrubbed like a report, bounded, digested.

The host's whole ``HostResult`` is kept (so a stored run renders again as it was), after the reports'
secret scrub and with bounds: a string longer than ``MAX_STRING`` is cut (the cut says so in the text),
and a document still larger than ``MAX_DOCUMENT`` loses its facts, then its evidence, each replaced by a
note saying what was removed. Check rows carry a digest of their evidence instead of the evidence.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any

from auditor.report.redact import redact_run
from auditor.results import CheckResult, HostResult, PlayResult, RunResult
from auditor.secrets import is_secret_name as is_secret_key
from auditor.store.verdicts import VerdictRank, default_verdict_rank, worst_verdict

MAX_STRING = 32 * 1024            # characters in any one string of a stored host
MAX_DOCUMENT = 1024 * 1024        # characters of a stored host's JSON
MAX_MESSAGE = 2000                # characters of a check message in its row (the document keeps it whole)
MAX_LISTING_LINES = 2000          # lines of a file listing kept in its check row, for drift's line diff
CUT_KEY = "_cut"
COMPRESSION = 1                   # zlib level: ~3x smaller than the JSON at a fraction of level 6's CPU

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
_PEM_TAIL = "PRIVATE KEY-----"  # every PEM private key header the scrub replaces ends so


def check_key(play: PlayResult, check: CheckResult) -> str:
    """The stable key of a check across runs: the run's own ``<playbook id>/<play>/<check id>`` (schema 2.0);
    for 1.x results, which have none, the same shape built from the playbook's file name."""
    if check.key:
        return check.key
    return f"{play.playbook_id or PurePath(play.playbook).stem}/{play.play}/{check.id}"


def canonical_digest(value: Any) -> str:
    """sha256 of the canonical JSON of ``value`` (sorted keys, no spaces): equal data, equal digest."""
    return hashlib.sha256(_CANONICAL.encode(value).encode("utf-8", "surrogatepass")).hexdigest()


def listing_lines(evidence: Any) -> list[dict[str, Any]] | None:
    """A file listing in evidence (``lines: [{n, text}]``, e.g. W-CFG-02's ``.wslconfig``), else None."""
    lines = evidence.get("lines") if isinstance(evidence, dict) else None
    if isinstance(lines, list) and lines and all(isinstance(x, dict) and "text" in x for x in lines):
        return lines
    return None


def listing_row(evidence: dict[str, Any], lines: list[dict[str, Any]]) -> str:
    """What a check row keeps of a file listing for drift: the file's path (evidence ``profile``) and its
    lines' text, as JSON ``{"file": ..., "lines": [...]}``."""
    path = evidence.get("profile")
    return json.dumps({"file": path if isinstance(path, str) else None,
                       "lines": [str(x.get("text", "")) for x in lines[:MAX_LISTING_LINES]]}, ensure_ascii=False)


def host_check_digest(status: str, verdict: str | None, checks: Iterable[tuple[str, str, str | None]]) -> str:
    """One digest of what drift compares for a host: outcome, headline verdict, each check's status and listing.

    Two runs' hosts with the same digest are ``unchanged``; only hosts whose digests differ need their
    check rows read (``checks`` are ``(key, status, listing digest)``)."""
    h = hashlib.sha256(f"{status}\0{verdict or ''}".encode())
    for key, check_status, listing in sorted(checks):
        h.update(f"\n{key}\0{check_status}\0{listing or ''}".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass
class HostRows:
    host: dict[str, Any]
    checks: list[dict[str, Any]]


def keyed_checks(host: HostResult) -> list[tuple[str, CheckResult]]:
    """Every check of a host with its key, in run order; a key seen again (the same playbook twice in one
    run) gets ``#2``, ``#3``... so that no result overwrites another."""
    out: list[tuple[str, CheckResult]] = []
    seen: dict[str, int] = {}
    for play in host.plays:
        for check in play.checks:
            key = check_key(play, check)
            seen[key] = seen.get(key, 0) + 1
            out.append((key if seen[key] == 1 else f"{key}#{seen[key]}", check))
    return out


def host_rows(run_id: str, host: HostResult, recorded: datetime, rank: VerdictRank = default_verdict_rank) -> HostRows:
    """The ``host_results`` row and ``check_results`` rows of one finished host."""
    if might_hold_secrets(host):  # rare: the reports' own scrub, on this host alone
        host = redact_run(RunResult.model_construct(hosts=[host], options={})).hosts[0]
    text = host.model_dump_json()
    checks: list[dict[str, Any]] = []
    for key, check in keyed_checks(host):
        evidence = check.evidence
        lines = listing_lines(evidence)
        checks.append({
            "run_id": run_id, "host": host.name, "key": key, "check_id": check.id,
            "status": check.status.value, "severity": check.severity.value,
            "message": _cut_text(check.message, MAX_MESSAGE),
            "evidence_digest": canonical_digest(evidence),
            "listing_digest": canonical_digest(lines) if lines is not None else None,
            "listing": listing_row(evidence, lines) if lines is not None else None,
            "duration_ms": check.duration_ms,
        })
    cut: list[str] = []
    if len(text) > MAX_STRING:  # shorter JSON cannot hold a string over the bound
        text, cut = bounded_json(json.loads(text))
    headline = worst_verdict(host.verdicts(), rank)
    row = {
        "run_id": run_id, "host": host.name, "status": host.status.value,
        "error": _cut_text(host.error, MAX_STRING) if host.error is not None else None,
        "started": host.started, "finished": host.finished, "total_ms": host.timings.total_ms,
        "verdict": headline.name if headline else None,
        "confidence": headline.confidence.value if headline else None,
        "check_digest": host_check_digest(host.status.value, headline.name if headline else None,
                                          ((c["key"], c["status"], c["listing_digest"]) for c in checks)),
        "document": zlib.compress(text.encode("utf-8", "surrogatepass"), COMPRESSION),
        "cut": "; ".join(cut) or None,
        "recorded": recorded,
    }
    return HostRows(row, checks)


def might_hold_secrets(host: HostResult) -> bool:
    """Would the reports' scrub (``auditor.report.redact``) change this host? Only if a key in its evidence
    or facts names a secret, or a PEM private key is in them or in a task's message or diff. Looking is
    several times cheaper than scrubbing, and nearly every host has nothing to scrub."""
    for play in host.plays:
        if play.facts is not None and _suspect(play.facts):
            return True
        if any(_suspect(check.evidence) for check in play.checks):
            return True
        if any(_PEM_TAIL in (task.diff or "") or _PEM_TAIL in task.message for task in play.tasks):
            return True
    return False


def _suspect(value: Any) -> bool:
    if isinstance(value, dict):
        return any((isinstance(k, str) and is_secret_key(k)) or _suspect(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_suspect(v) for v in value)
    return isinstance(value, str) and _PEM_TAIL in value


def read_document(blob: bytes) -> dict[str, Any]:
    """The stored host document back as JSON data."""
    data = json.loads(zlib.decompress(blob).decode("utf-8", "surrogatepass"))
    if not isinstance(data, dict):
        raise ValueError("a stored host document is not a JSON object")
    return data


def bounded_json(document: dict[str, Any]) -> tuple[str, list[str]]:
    """``document`` as JSON within the bounds, and what had to be cut (empty when nothing was)."""
    cut: list[str] = []
    text = _dumps(document)
    counter = [0]
    document = _cut_strings(document, counter)
    if counter[0]:
        cut.append(f"{counter[0]} strings over {MAX_STRING} characters cut")
        text = _dumps(document)
    for what, field in (("facts", "facts"), ("evidence", "evidence")):
        if len(text) <= MAX_DOCUMENT:
            break
        note = f"{what} removed by the store: the host's result was over {MAX_DOCUMENT} characters"
        for play in document.get("plays", []):
            if field == "facts" and play.get("facts") is not None:
                play["facts"] = {CUT_KEY: note}
            for check in play.get("checks", []) if field == "evidence" else []:
                check["evidence"] = {CUT_KEY: note}
        cut.append(f"{what} removed (document over {MAX_DOCUMENT} characters)")
        text = _dumps(document)
    return text, cut


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _cut_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[cut by the store: {len(text)} characters, the first {limit} kept]"


def _cut_strings(value: Any, counter: list[int]) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            counter[0] += 1
            return _cut_text(value, MAX_STRING)
        return value
    if isinstance(value, dict):
        return {k: _cut_strings(v, counter) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_strings(v, counter) for v in value]
    return value
