"""Module arguments with templates, rendered per host (and per loop item) in the playbook sandbox.

A string that is exactly one ``{{ expression }}`` keeps the expression's type (a list stays a list, as
Ansible does with native types); any other string containing ``{{`` or ``{%`` is rendered as text.
"""

from __future__ import annotations

import re
from typing import Any

from auditor.playbook.expressions import evaluate, render

_WHOLE = re.compile(r"^\s*\{\{(?:(?!\}\}).)*\}\}\s*$", re.S)


def has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(has_template(v) for v in value)
    return False


def render_value(value: Any, context: dict[str, Any]) -> Any:
    """Render every template inside ``value``; raises ExpressionError (message safe to show)."""
    if isinstance(value, str):
        if _WHOLE.match(value):
            return evaluate(value, context)
        if "{{" in value or "{%" in value:
            return render(value, context)
        return value
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    return value
