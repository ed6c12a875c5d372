"""The wire format of remediation steps: real scripts that say what they are.

Every step a module sends starts with two lines, then the real script (PowerShell 5.1 or POSIX sh)::

    # auditor-module: wslconfig.write v1
    $A = ConvertFrom-Json '{"path": "C:\\\\Users\\\\dev\\\\.wslconfig", ...}'      (PowerShell)
    A='{"path": ...}'                                                           (sh)

The second line is where the script gets its arguments (one JSON object, single quotes doubled for
PowerShell, ``'\\''`` for sh), so the header never disagrees with what runs. Simulated hosts
(``auditor.lab.models.remediation``) read the same two lines with ``parse_step`` and apply the step to
their state. Each step prints ONE compressed JSON object on stdout; ``read_reply`` takes it back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from auditor.parsers.decode import first_json_value
from auditor.parsers.decode import decode_output
from auditor.transports.base import ExecResult

HEADER = "# auditor-module: "
_HEADER_RE = re.compile(r"^# auditor-module: ([a-z_][a-z0-9_.]*) v(\d+)\s*$")
_PS_ARGS = re.compile(r"^\$A = ConvertFrom-Json '((?:[^']|'')*)'\s*$")
_SH_ARGS = re.compile(r"^A='((?:[^']|'\\'')*)'\s*$")
MAX_REPLY = 1024 * 1024


@dataclass(frozen=True)
class Step:
    name: str      # e.g. "wslconfig.read"
    version: int
    args: dict[str, Any]
    body: str      # the script after the two header lines


def ps_step(name: str, args: dict[str, Any], body: str, version: int = 1) -> str:
    payload = json.dumps(args, separators=(",", ":"), sort_keys=True).replace("'", "''")
    return f"{HEADER}{name} v{version}\n$A = ConvertFrom-Json '{payload}'\n{body.strip()}\n"


def sh_step(name: str, args: dict[str, Any], body: str, version: int = 1) -> str:
    payload = json.dumps(args, separators=(",", ":"), sort_keys=True).replace("'", "'\\''")
    return f"{HEADER}{name} v{version}\nA='{payload}'\n{body.strip()}\n"


def parse_step(script: str) -> Step | None:
    """The step a script carries, or None when it is not a remediation step."""
    head, _, rest = script.lstrip("\ufeff").partition("\n")
    m = _HEADER_RE.match(head.rstrip("\r"))
    if not m:
        return None
    line, _, body = rest.partition("\n")
    line = line.rstrip("\r")
    pm, sm = _PS_ARGS.match(line), _SH_ARGS.match(line)
    if pm:
        raw = pm.group(1).replace("''", "'")
    elif sm:
        raw = sm.group(1).replace("'\\''", "'")
    else:
        return None
    try:
        args = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(args, dict):
        return None
    return Step(m.group(1), int(m.group(2)), args, body)


class ReplyError(Exception):
    """A step's reply could not be read; the message is safe to show."""


def read_reply(result: ExecResult, step: str) -> dict[str, Any]:
    """The JSON object a step printed. Remote output is untrusted: bounded, decoded defensively."""
    text = decode_output(result.stdout[:MAX_REPLY])
    if not text.strip():
        err = decode_output(result.stderr[:2000]).strip().splitlines()
        detail = next((ln.strip() for ln in err if ln.strip() and not ln.startswith("#< CLIXML")), "")
        raise ReplyError(f"{step}: no reply (rc={result.rc}){': ' + _clip(detail) if detail else ''}")
    try:
        value = json.loads(first_json_value(text))
    except ValueError:
        raise ReplyError(f"{step}: the reply is not JSON: {_clip(text.strip())!r}") from None
    if not isinstance(value, dict):
        raise ReplyError(f"{step}: expected a JSON object, got {type(value).__name__}")
    return value


def _clip(text: str, n: int = 200) -> str:
    return text if len(text) <= n else text[:n] + "..."
