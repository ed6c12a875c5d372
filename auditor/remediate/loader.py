"""Load and validate remediation playbooks: every problem is one BadInputError with file:line:column.

Besides the schema, the loader resolves module names, checks module arguments (fully when they hold no
template, their names when they do: templated values are checked per host at run time) and compiles
every expression, so a typo fails before any host is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from auditor.errors import BadInputError
from auditor.playbook.expressions import ExpressionError, compile_expression
from auditor.playbook.loader import MAX_PLAYBOOK_BYTES, _resolve, _schema_error
from auditor.playbook.schema import Play
from auditor.playbook.yamlpos import PositionedYAML, read_positioned_file
from auditor.remediate.modules import get_module, known_modules
from auditor.remediate.schema import FREE_FORM, RemediationPlay, RemediationPlaybook, Task
from auditor.remediate.templating import has_template

_PLAYS = TypeAdapter(list[RemediationPlay])


def load_remediation_playbook(path: str | Path) -> RemediationPlaybook:
    doc = read_positioned_file(path, "remediation playbook", MAX_PLAYBOOK_BYTES)
    if not isinstance(doc.data, list) or not doc.data:
        raise BadInputError("expected a non-empty list of plays at the top level", doc.location(()))
    try:
        plays = _PLAYS.validate_python(doc.data)
    except ValidationError as exc:
        raise _schema_error(exc, doc) from None
    for i, play in enumerate(plays):
        # gather/derive are the audit play's: resolve them with the audit loader (collectors are shared objects)
        _resolve(Play.model_construct(name=play.name, hosts=play.hosts, gather=play.gather, derive=play.derive,
                                      checks=[], verdict=None), i, doc, Path(path).parent)
        for j, task in enumerate(play.tasks):
            _check_task(task, (i, "tasks", j), doc)
    return RemediationPlaybook(path=str(path), plays=plays, sha256=doc.sha256)


def load_remediation_playbooks(paths: list[str]) -> list[RemediationPlaybook]:
    return [load_remediation_playbook(p) for p in paths]


def _check_task(task: Task, where: tuple, doc: PositionedYAML) -> None:
    module = get_module(task.module)
    if module is None:
        raise BadInputError(f"unknown module {task.module!r} (known: {', '.join(known_modules())})",
                            doc.location(where + (task.module,), prefer_key=True))
    if FREE_FORM in task.args:
        if module.free_form is None:
            raise BadInputError(f"module {task.module!r} needs a mapping of arguments, not a single value",
                                doc.location(where + (task.module,)))
        task.args = {module.free_form: task.args.pop(FREE_FORM)}
    fields = module.Args.model_fields
    for key in task.args:
        if key not in fields:
            raise BadInputError(f"module {task.module!r} has no argument {key!r} (expected: {', '.join(fields)})",
                                doc.location(where + (task.module, key), prefer_key=True))
    if not has_template(task.args):
        try:
            module.Args.model_validate(task.args)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = [p for p in err["loc"] if isinstance(p, str)]
            msg = err["msg"].removeprefix("Value error, ")
            raise BadInputError(f"{task.module}: {loc[0] + ': ' if loc else ''}{msg}",
                                doc.location(where + (task.module, *loc[:1]))) from None
    _compile_all(doc, where, "when", task.when)
    _compile_all(doc, where, "changed_when", task.changed_when)
    _compile_all(doc, where, "failed_when", task.failed_when)
    if isinstance(task.loop, str):
        _compile_all(doc, where, "loop", [task.loop])
    if task.label:
        _compile_all(doc, where, "label", [task.label])


def _compile_all(doc: PositionedYAML, where: tuple, key: str, sources: list[Any]) -> None:
    for k, source in enumerate(sources):
        try:
            compile_expression(str(source))
        except ExpressionError as exc:
            path = where + (key, k) if (where + (key, k)) in doc.values else where + (key,)
            raise BadInputError(str(exc), doc.location(path)) from None
