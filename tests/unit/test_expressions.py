"""Sandboxed expressions: they evaluate facts, and they cannot reach outside the sandbox."""

from __future__ import annotations

import pytest
from jinja2 import StrictUndefined, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from auditor.playbook.expressions import ENV, ExpressionError, ExpressionScope, evaluate, render

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


@pytest.mark.parametrize("expr", [
    "facts.mode == 'mirrored'", "facts.ports | length", "facts.build | version_compare('22621', '>=')",
    "vars.x + 1", "facts.mode | regex_search('^mir')",
])
def test_a_scope_answers_as_evaluate_does(expr):
    scope = ExpressionScope(CTX)
    assert scope.evaluate(expr) == evaluate(expr, CTX)
    assert scope.evaluate(expr) == evaluate(expr, CTX)  # and again: the scope's context is reused


def test_nothing_of_one_expression_stays_in_a_scope_for_the_next():
    scope = ExpressionScope({**CTX, "data": {"n": 1}})
    assert scope.evaluate("facts.mode") == "mirrored"
    with pytest.raises(ExpressionError, match="undefined"):
        scope.evaluate("result")  # the previous expression's value is not visible
    with pytest.raises(ExpressionError):
        scope.evaluate("facts.build + 1")  # fails half way
    with pytest.raises(ExpressionError, match="undefined"):
        scope.evaluate("result")
    with pytest.raises(ExpressionError):
        scope.evaluate("data.update({'n': 2})")  # immutable sandbox, as with evaluate
    assert scope.evaluate("data.n") == 1
    assert scope.render("{% set q = 5 %}{{ q }} {{ facts.mode }}") == "5 mirrored"
    with pytest.raises(ExpressionError, match="undefined"):
        scope.evaluate("q")


class _Obj:
    name = "obj"
    _private = "hidden"


_PLAIN = ImmutableSandboxedEnvironment(undefined=StrictUndefined)


@pytest.mark.parametrize("obj, attribute", [
    ({"wsl": {"mode": "nat"}}, "wsl"),        # an item
    ({"items": 1, "keys": 2}, "items"),      # a dict method shadows the item, as in Jinja2
    ({"items": 1}, "keys"),
    ({"a": 1}, "missing"),                   # undefined
    ({"__class__": 1}, "__class__"),          # unsafe attribute: the sandbox's answer
    ({}, "__init__"),
    (_Obj(), "name"),                        # not a dict: the sandbox's own path
    (_Obj(), "_private"),
    ([1, 2], "append"),
    ("text", "upper"),
])
def test_the_dict_shortcut_gives_what_the_sandbox_gives(obj, attribute):
    ours, theirs = ENV.getattr(obj, attribute), _PLAIN.getattr(obj, attribute)
    assert type(ours) is type(theirs)
    if isinstance(theirs, StrictUndefined):  # undefined or unsafe: the same error when used
        errors = []
        for value in (ours, theirs):
            with pytest.raises((UndefinedError, SecurityError)) as caught:
                str(value)
            errors.append((type(caught.value), str(caught.value)))
        assert errors[0] == errors[1]
    elif callable(theirs):
        assert ours == theirs or getattr(ours, "__name__", None) == getattr(theirs, "__name__", None)
    else:
        assert ours == theirs
