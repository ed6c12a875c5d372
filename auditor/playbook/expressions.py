"""Playbook expressions: Jinja2 in the immutable sandbox, strict about undefined names.

Conditions (``when``, ``applies_if``, ``that``) are bare Jinja2 expressions, as in Ansible;
messages are templates. Everything is compiled once at load time, so a broken expression is a
load error with file:line, not a surprise mid-run.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.parser import Parser
from jinja2.runtime import Context, new_context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from auditor.playbook.compile_cache import cached_code


class ExpressionError(ValueError):
    """An expression failed to compile or evaluate; the message is safe to show."""


def _regex_search(value: Any, pattern: str, ignorecase: bool = False) -> str | None:
    m = re.search(pattern, str(value), re.IGNORECASE if ignorecase else 0)
    return m.group(0) if m else None


def _version_tuple(value: Any) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", str(value))[:6])


def _version_compare(value: Any, other: Any, op: str = ">=") -> bool:
    a, b = _version_tuple(value), _version_tuple(other)
    length = max(len(a), len(b))
    a, b = a + (0,) * (length - len(a)), b + (0,) * (length - len(b))
    ops = {">=": a >= b, ">": a > b, "<=": a <= b, "<": a < b, "==": a == b, "!=": a != b,
           "ge": a >= b, "gt": a > b, "le": a <= b, "lt": a < b, "eq": a == b, "ne": a != b}
    if op not in ops:
        raise ExpressionError(f"version comparison operator {op!r} is not one of {', '.join(ops)}")
    return ops[op]


_DICT_ATTRIBUTES = frozenset(dir(dict))


class AuditSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, with a shorter way to the same answer for ``facts.wsl.mode``.

    Jinja2 looks an attribute up first and an item second, so on a plain dict every ``a.b`` raised and
    caught an AttributeError before finding the key (a third of an expression's time). A plain dict has
    no attributes but its class's (``dir(dict)``), so for any other name the item is what Jinja2 would
    have returned, and a missing one the same undefined; everything else takes the sandbox's own path."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _make_env() -> ImmutableSandboxedEnvironment:
    env = AuditSandbox(undefined=StrictUndefined, autoescape=False)
    env.filters["to_json"] = lambda v: json.dumps(v, default=str, sort_keys=True)
    env.filters["regex_search"] = _regex_search
    env.filters["version_compare"] = _version_compare
    env.filters["version"] = _version_compare
    env.filters["bool"] = lambda v: str(v).strip().lower() in ("1", "true", "yes", "on") if isinstance(v, str) else bool(v)
    env.tests["version"] = _version_compare
    env.tests["regex"] = lambda v, p: re.search(p, str(v)) is not None
    return env


ENV = _make_env()
_GLOBALS = dict(ENV.globals)


def _strip_braces(source: str) -> str:
    s = source.strip()
    if s.startswith("{{") and s.endswith("}}") and s.count("{{") == 1:
        return s[2:-2].strip()
    return s


def _expression_tree(source: str) -> nodes.Template:
    """``result = <source>`` as a template, parsed the way ``Environment.compile_expression`` does."""
    parser = Parser(ENV, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, None)
    expr.set_environment(ENV)
    return nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)], lineno=1)


@lru_cache(maxsize=4096)
def _names(source: str, bare: bool) -> frozenset[str]:
    """The names ``source`` loads (a superset of what it reads from the context: loop and ``set``
    variables are included, which is harmless). Only those are handed to Jinja2, which otherwise
    copies every name it is given into a new context per call. Taken from the parse tree:
    ``jinja2.meta.find_undeclared_variables`` runs a whole code generation to be exact."""
    tree = _expression_tree(_strip_braces(source)) if bare else ENV.parse(source)
    return frozenset(node.name for node in tree.find_all(nodes.Name) if node.ctx == "load")


def _used(source: str, bare: bool, context: dict[str, Any]) -> dict[str, Any]:
    """The environment's globals (range, dict, ...) and the context names ``source`` reads, in one
    plain dict that Jinja2 may use as is (``shared=True``): its own per-call merge goes through a
    ChainMap of the globals, which cost more than most expressions themselves."""
    return {**_GLOBALS, **{name: context[name] for name in _names(source, bare) if name in context}}


def _context(template: Template, names: dict[str, Any]) -> Context:
    # no ``globals=``: Jinja would copy its ChainMap of globals into a set per call; ``names`` has them
    return new_context(ENV, template.name, template.blocks, names, shared=True)


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Template:
    """Compile a bare expression (``{{ }}`` around it is tolerated, as Ansible does for when)."""
    bare = _strip_braces(source)
    try:
        code = cached_code(ENV, "expression", bare, lambda: ENV.compile(_expression_tree(bare)))
    except TemplateError as exc:
        raise ExpressionError(f"invalid expression {source!r}: {exc.message or exc}") from None
    return Template.from_code(ENV, code, ENV.make_globals(None))


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    try:
        code = cached_code(ENV, "template", source, lambda: ENV.compile(source))
    except TemplateError as exc:
        raise ExpressionError(f"invalid template {source!r}: {exc.message or exc}") from None
    return Template.from_code(ENV, code, ENV.make_globals(None))


def evaluate(source: str, context: dict[str, Any]) -> Any:
    return _evaluate_in(source, new_context(ENV, None, {}, _used(source, True, context), shared=True))


def _evaluate_in(source: str, jinja: Context) -> Any:
    """``source``'s value in ``jinja``; the context is left as it was given (a bare expression writes only its
    ``result``, taken out here, also when it fails half way), so one context serves many expressions."""
    try:
        template = compile_expression(source)
        for _ in template.root_render_func(jinja):
            pass
        value = jinja.vars.pop("result")
    except ExpressionError:
        raise
    except TemplateError as exc:
        raise ExpressionError(f"{source!r}: {exc.message or exc}") from None
    except Exception as exc:  # noqa: BLE001 - the expression's own error (TypeError, ...) is user input
        raise ExpressionError(f"{source!r}: {type(exc).__name__}: {exc}") from None
    finally:
        if jinja.vars:
            jinja.vars.clear()
        jinja.exported_vars.clear()
    if isinstance(value, StrictUndefined):  # pragma: no cover - defensive
        raise ExpressionError(f"{source!r}: undefined")
    return value


class ExpressionScope:
    """One context for many bare expressions (a host's checks: ~80 per host): the Jinja2 context is built
    once, not per expression (its construction cost more than most expressions). Every expression sees
    exactly ``context`` and the globals, as with ``evaluate``. Messages (templates, which may ``{% set %}``)
    still get a fresh context each: ``render``."""

    def __init__(self, context: dict[str, Any]) -> None:
        self.context = context
        self._jinja: Context | None = None

    def evaluate(self, source: str) -> Any:
        if self._jinja is None:
            self._jinja = new_context(ENV, None, {}, {**_GLOBALS, **self.context}, shared=True)
        return _evaluate_in(source, self._jinja)

    def render(self, source: str) -> str:
        return render(source, self.context)


def render(source: str, context: dict[str, Any]) -> str:
    try:
        template = compile_template(source)
        names = _used(source, False, context)
        return ENV.concat(template.root_render_func(_context(template, names)))
    except ExpressionError:
        raise
    except TemplateError as exc:
        raise ExpressionError(f"{source!r}: {exc.message or exc}") from None
    except Exception as exc:  # noqa: BLE001
        raise ExpressionError(f"{source!r}: {type(exc).__name__}: {exc}") from None
