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


class _CountingContext(dict):
    """A context that records which names were read (a host's context holds many)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def keys(self):  # a full copy (dict(**ctx)) would go through keys(): make it visible
        self.read.add("*all*")
        return super().keys()


def test_only_the_names_an_expression_uses_are_handed_over():
    ctx = _CountingContext(CTX, **{f"unused{i}": i for i in range(50)})
    assert evaluate("facts.mode == 'mirrored' and vars.x == 1", ctx) is True
    assert ctx.read == {"facts", "vars"}
    ctx.read.clear()
    assert render("{% for p in facts.ports %}{{ p }},{% endfor %}{{ unused3 }}", ctx) == "80,443,3"
    assert ctx.read == {"facts", "unused3"}


def test_loop_and_set_names_stay_local_and_undefined_stays_an_error():
    ctx = {"items": [1, 2], "p": 99}
    assert render("{% for p in items %}{{ p }}{% endfor %}{% set q = 5 %}{{ q }}{{ p }}", ctx) == "12599"
    with pytest.raises(ExpressionError, match="undefined"):
        evaluate("items | length > missing_name", ctx)
