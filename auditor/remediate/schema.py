"""The remediation playbook schema (pydantic). Reference with examples: docs/remediation.md.

A remediation play looks like an audit play (``name``, ``hosts``, ``vars``, ``gather``, ``derive``) with
``tasks`` instead of checks. A task is Ansible-like: ``name``, exactly ONE module key with its arguments,
and optional ``when``, ``loop`` (+ ``loop_var``, ``label``), ``register``, ``changed_when``, ``failed_when``,
``ignore_errors``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auditor.playbook.schema import PlayBase, repeated

VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: names the expression context already uses: a register or loop_var must not hide them
RESERVED = frozenset({"facts", "vars", "host", "enabled", "result", "check_mode", "true", "false", "none",
                      "True", "False", "None", "loop", "range", "dict", "lipsum", "cycler", "joiner", "namespace"})
FREE_FORM = "_free_form"
TASK_KEYS = frozenset({"name", "when", "loop", "loop_var", "label", "register", "changed_when", "failed_when",
                       "ignore_errors"})


def _conditions(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, (str, bool)):
        return [str(value)] if not isinstance(value, bool) else [("true" if value else "false")]
    return value


class Task(BaseModel):
    """One task. The module key and its arguments end up in ``module`` / ``args`` (see ``_module``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(min_length=1, max_length=200)
    module: str
    args: dict[str, Any] = Field(default_factory=dict)
    when: list[str] = Field(default_factory=list)
    loop: list[Any] | str | None = None
    loop_var: str = "item"
    label: str | None = None
    register_as: str | None = Field(default=None, alias="register")  # `register` would shadow BaseModel's
    changed_when: list[str] = Field(default_factory=list)
    failed_when: list[str] = Field(default_factory=list)
    ignore_errors: bool = False

    @model_validator(mode="before")
    @classmethod
    def _module(cls, data: Any) -> Any:
        """Move the one non-task key (the module) into ``module``/``args``; the loader checks its name."""
        if not isinstance(data, dict):
            return data
        others = [k for k in data if k not in TASK_KEYS]
        if len(others) != 1:
            raise ValueError("a task needs exactly one module key (e.g. wslconfig:, wsl_policy:, shell:); found "
                             + (", ".join(repr(k) for k in others) or "none"))
        key = others[0]
        out = {k: v for k, v in data.items() if k != key}
        out["module"] = key
        args = data[key]
        # `shell: "ls"`: a free-form value; the loader maps it to the module's free_form argument
        out["args"] = {} if args is None else args if isinstance(args, dict) else {FREE_FORM: args}
        return out

    @field_validator("when", "changed_when", "failed_when", mode="before")
    @classmethod
    def _cond(cls, value: Any) -> Any:
        return _conditions(value)

    @field_validator("register_as", "loop_var")
    @classmethod
    def _var(cls, value: str | None) -> str | None:
        if value is not None and (not VAR_NAME.match(value) or value in RESERVED):
            raise ValueError(f"{value!r} is not a usable variable name (letters, digits, _; not one of "
                             "facts, vars, host, enabled, result, check_mode)")
        return value


class RemediationPlay(PlayBase):
    """A play whose work is ``tasks`` (the rest, as an audit play: ``auditor.playbook.schema.PlayBase``)."""

    tasks: list[Task] = Field(min_length=1)
    fixes: list[str] = Field(default_factory=list, description="ids (or keys) of the audit checks this play remediates: "
                                                               "with --waiver-file, a host whose active waiver covers "
                                                               "one of them is left alone")

    @field_validator("fixes", mode="before")
    @classmethod
    def _fixes_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _unique_registers(self) -> "RemediationPlay":
        dupes = repeated([t.register_as for t in self.tasks if t.register_as])
        if dupes:
            raise ValueError(f"register names must be unique in a play; repeated: {dupes}")
        return self


class RemediationPlaybook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    plays: list[RemediationPlay]
    sha256: str | None = None  # digest of the file's bytes (recorded in the run)
