"""Load and validate playbooks: YAML -> schema -> names resolved -> expressions compiled.

Every problem becomes one ``BadInputError`` naming file:line:column and the key at fault.
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from auditor.errors import BadInputError
from auditor.parsers.registry import get_parser, known_parsers
from auditor.playbook.expressions import ExpressionError, compile_expression, compile_template
from auditor.playbook.schema import Play, Playbook
from auditor.playbook.yamlpos import PositionedYAML, read_positioned_file, validation_error
from auditor.rules import get_deriver, get_verdict_rule, known_derivers, known_verdict_rules

_PLAYS = TypeAdapter(list[Play])
MAX_PLAYBOOK_BYTES = 4 * 1024 * 1024


def load_playbook(path: str | Path) -> Playbook:
    """Load one playbook file; raise BadInputError (file:line:col) on any problem."""
    path = Path(path)
    name = str(path)
    doc = read_positioned_file(path, "playbook", MAX_PLAYBOOK_BYTES)
    if doc.data is None:
        raise BadInputError("expected a list of plays, the file is empty", doc.location(()))
    if not isinstance(doc.data, list):
        raise BadInputError(f"expected a list of plays at the top level, found a {type(doc.data).__name__}", doc.location(()))
    try:
        plays = _PLAYS.validate_python(doc.data)
    except ValidationError as exc:
        raise _schema_error(exc, doc) from None
    for i, play in enumerate(plays):
        _resolve(play, i, doc, path.parent)
    return Playbook(path=name, plays=plays, sha256=doc.sha256)


def load_playbooks(paths: list[str]) -> list[Playbook]:
    return [load_playbook(p) for p in paths]


def _schema_error(exc: ValidationError, doc: PositionedYAML) -> BadInputError:
    err = validation_error(exc, doc)
    if exc.errors()[0]["loc"][-1:] == ("[key]",):  # the only dict keyed by name in a play: gather
        key = next(str(p) for p in reversed(exc.errors()[0]["loc"][:-1]) if isinstance(p, str))
        err = BadInputError(f"{key!r} is not a known platform (expected one of windows, linux)", err.location)
    return err


_RESOURCE = re.compile(r"^(?P<package>[A-Za-z_][A-Za-z0-9_]+(?:\.[A-Za-z_][A-Za-z0-9_]*)*):(?P<path>[^:\\]+)$")


def read_script_file(name: str, base: Path) -> str:
    """A collector's ``script_file``: ``PACKAGE:path/in/package`` (e.g. ``auditor:collectors/scripts/x.ps1``,
    found wherever the package is installed, a wheel included), else a path relative to the playbook."""
    match = _RESOURCE.match(name)
    if match:
        resource = importlib.resources.files(match["package"]).joinpath(match["path"])
        return resource.read_text(encoding="utf-8-sig")
    return (base / name).resolve().read_text(encoding="utf-8-sig")


def _resolve(play: Play, i: int, doc: PositionedYAML, base: Path) -> None:
    for platform, collectors in play.gather.items():
        for j, col in enumerate(collectors):
            where: tuple[Any, ...] = (i, "gather", platform, j)
            if get_parser(col.parser) is None:
                raise BadInputError(
                    f"unknown parser {col.parser!r} (known: {', '.join(known_parsers())})", doc.location(where + ("parser",))
                )
            if col.script_file:
                try:
                    col.script = read_script_file(col.script_file, base)
                except (OSError, ModuleNotFoundError):
                    raise BadInputError(f"script_file {col.script_file!r} not found", doc.location(where + ("script_file",))) from None
                col.script_file = None
    for j, name in enumerate(play.derive):
        if get_deriver(name) is None:
            raise BadInputError(f"unknown deriver {name!r} (known: {', '.join(known_derivers()) or 'none'})", doc.location((i, "derive", j)))
    if play.verdict and get_verdict_rule(play.verdict) is None:
        raise BadInputError(
            f"unknown verdict rule {play.verdict!r} (known: {', '.join(known_verdict_rules()) or 'none'})", doc.location((i, "verdict"))
        )
    for j, check in enumerate(play.checks):
        where = (i, "checks", j)
        _compile(doc, where + ("applies_if",), check.applies_if, compile_expression)
        _compile(doc, where + ("when",), check.when, compile_expression)
        for k, cond in enumerate(check.that):
            _compile(doc, where + ("that", k), cond, compile_expression)
        for key, expr in check.evidence.items():
            _compile(doc, where + ("evidence", key), expr, compile_expression)
        for field in ("success_msg", "fail_msg", "remediation"):
            _compile(doc, where + (field,), getattr(check, field), compile_template)


def _compile(doc: PositionedYAML, path: tuple, source: Any, compiler) -> None:
    if not source:
        return
    try:
        compiler(source)
    except ExpressionError as exc:
        raise BadInputError(str(exc), doc.location(path)) from None
