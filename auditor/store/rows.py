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
from typing import Any

from auditor.report.redact import scrub
from auditor.results import CheckResult, HostResult, PlayResult
from auditor.store.verdicts import VerdictRank, default_verdict_rank, worst_verdict

MAX_STRING = 32 * 1024            # characters in any one string of a stored host
MAX_DOCUMENT = 1024 * 1024        # characters of a stored host's JSON
MAX_MESSAGE = 2000                # characters of a check message in its row (the document keeps it whole)
CUT_KEY = "_cut"


def check_key(play: PlayResult, check: CheckResult) -> str:
    """The stable key of a check across runs: ``<playbook>/<play>/<check id>``."""
    return f"{play.playbook}/{play.play}/{check.id}"


def canonical_digest(value: Any) -> str:
    """sha256 of the canonical JSON of ``value`` (sorted keys, no spaces): equal data, equal digest."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def listing_lines(evidence: Any) -> list[dict[str, Any]] | None:
    """A file listing in evidence (``lines: [{n, text}]``, e.g. W-CFG-02's ``.wslconfig``), else None."""
    lines = evidence.get("lines") if isinstance(evidence, dict) else None
    if isinstance(lines, list) and lines and all(isinstance(x, dict) and "text" in x for x in lines):
        return lines
    return None


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
    document = scrub(host.model_dump(mode="json"))
    checks: list[dict[str, Any]] = []
    check_docs = [c for play in document["plays"] for c in play["checks"]]
    for (key, check), check_doc in zip(keyed_checks(host), check_docs):
        evidence = check_doc["evidence"]
        lines = listing_lines(evidence)
        checks.append({
            "run_id": run_id, "host": host.name, "key": key, "check_id": check.id,
            "status": check.status.value, "severity": check.severity.value,
            "message": _cut_text(check_doc["message"], MAX_MESSAGE),
            "evidence_digest": canonical_digest(evidence),
            "listing_digest": canonical_digest(lines) if lines is not None else None,
            "duration_ms": check.duration_ms,
        })
    text, cut = bounded_json(document)
    headline = worst_verdict(host.verdicts(), rank)
    row = {
        "run_id": run_id, "host": host.name, "status": host.status.value,
        "error": _cut_text(host.error, MAX_STRING) if host.error is not None else None,
        "started": host.started, "finished": host.finished, "total_ms": host.timings.total_ms,
        "verdict": headline.name if headline else None,
        "confidence": headline.confidence.value if headline else None,
        "check_digest": host_check_digest(host.status.value, headline.name if headline else None,
                                          ((c["key"], c["status"], c["listing_digest"]) for c in checks)),
        "document": zlib.compress(text.encode("utf-8", "surrogatepass"), 6),
        "cut": "; ".join(cut) or None,
        "recorded": recorded,
    }
    return HostRows(row, checks)


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
    if len(text) <= MAX_STRING:  # no single string can be over the bound: skip the walk
        return text, cut
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
