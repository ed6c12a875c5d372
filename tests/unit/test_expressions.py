"""Sandboxed expressions: they evaluate facts, and they cannot reach outside the sandbox."""

from __future__ import annotations

import pytest

from auditor.playbook.expressions import ExpressionError, evaluate, render

CTX = {"facts": {"build": "22631", "ports": [80, 443], "mode": "mirrored"}, "vars": {"x": 1}}


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("facts.mode == 'mirrored'", True),
        ("{{ facts.mode == 'nat' }}", False),
        ("facts.ports | length", 2),
        ("443 in facts.ports", True),
        ("facts.build | version_compare('22621', '>=')", True),
        ("'2.0.9' is version('2.0.14', '<')", True),
        ("facts.mode | regex_search('^mir')", "mir"),
        ("facts.ports | to_json", "[80, 443]"),
    ],
)
def test_evaluate(expr, expected):
    assert evaluate(expr, CTX) == expected


@pytest.mark.parametrize(
    "expr",
    [
        "facts.nope.deeper",                      # undefined is an error, not silently false
        "facts.__class__.__mro__",                # sandbox: no dunder access
        "facts.ports.append(1)",                  # immutable sandbox: no mutation
        "().__class__.__base__.__subclasses__()",
        "facts.build + 1",                        # type error surfaces as an expression error
    ],
)
def test_errors_and_sandbox(expr):
    with pytest.raises(ExpressionError):
        evaluate(expr, CTX)
    assert CTX["facts"]["ports"] == [80, 443]


def test_render_template():
    assert render("mode is {{ facts.mode }}", CTX) == "mode is mirrored"
    with pytest.raises(ExpressionError):
        render("{{ facts.missing }}", CTX)
