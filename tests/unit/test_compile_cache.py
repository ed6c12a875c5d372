"""Compiled expressions kept between runs: reused when source and environment match, never trusted blindly."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.bccache import FileSystemBytecodeCache

from auditor.playbook import compile_cache, expressions
from auditor.playbook.expressions import ExpressionError, evaluate


@pytest.fixture
def cache_dir(tmp_path: Path):
    compile_cache.use_cache(FileSystemBytecodeCache(str(tmp_path), pattern="__auditor_%s.cache"))
    yield tmp_path
    compile_cache.use_cache(None)
    compile_cache._READY = False  # back to the default on next use
    expressions.compile_expression.cache_clear()


def _fresh() -> None:
    """Forget what this process compiled, as a new run would."""
    expressions.compile_expression.cache_clear()
    expressions.compile_template.cache_clear()


def test_second_run_loads_the_code_instead_of_compiling(cache_dir: Path, monkeypatch: pytest.MonkeyPatch):
    source = "facts.mode == 'mirrored' and facts.port | int > 1000"
    ctx = {"facts": {"mode": "mirrored", "port": "8081"}}
    _fresh()
    assert evaluate(source, ctx) is True
    assert len(list(cache_dir.iterdir())) == 1
    builds = []
    real = expressions.ENV.compile
    monkeypatch.setattr(expressions.ENV, "compile", lambda *a, **k: builds.append(a) or real(*a, **k))
    _fresh()
    assert evaluate(source, ctx) is True and builds == []  # from the cache
    _fresh()
    assert evaluate(source + " and true", ctx) is True and len(builds) == 1  # new source: compiled


def test_cached_code_stays_sandboxed(cache_dir: Path):
    for _ in range(2):
        _fresh()
        with pytest.raises(ExpressionError):
            evaluate("facts.__class__.__mro__", {"facts": {}})


def test_a_changed_environment_or_a_corrupt_entry_is_compiled_again(cache_dir: Path, monkeypatch: pytest.MonkeyPatch):
    _fresh()
    assert evaluate("1 + 1", {}) == 2
    (entry,) = cache_dir.iterdir()
    entry.write_bytes(entry.read_bytes()[:12])  # truncated
    _fresh()
    assert evaluate("1 + 1", {}) == 2
    monkeypatch.setitem(expressions.ENV.filters, "brand_new", lambda v: v)  # another environment
    _fresh()
    assert evaluate("1 + 1", {}) == 2
    assert len(list(cache_dir.iterdir())) == 2


def test_turned_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AUDITOR_COMPILE_CACHE", "off")
    monkeypatch.setattr(compile_cache, "_READY", False)
    monkeypatch.setattr(compile_cache, "_CACHE", None)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    _fresh()
    assert evaluate("2 * 3", {}) == 6
    assert compile_cache._cache() is None and list(tmp_path.iterdir()) == []


def _page_env(**settings):
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("auditor.report", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, **settings)


def test_the_report_page_is_compiled_once_and_never_under_other_settings(cache_dir: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    """A template environment's templates go through the same cache, keyed by the environment's settings too:
    Jinja2 alone keys them by name and file, and would hand code compiled with other settings back."""
    builds: list[str] = []

    def counted(env):
        real = env.compile
        monkeypatch.setattr(env, "compile", lambda source, name=None, *a, **k: builds.append(name) or real(source, name, *a, **k))
        env.bytecode_cache = compile_cache.template_cache()
        return env

    counted(_page_env(trim_blocks=True)).get_template("report.html.j2")
    counted(_page_env(trim_blocks=True)).get_template("report.html.j2")  # another run: from the cache
    assert builds == ["report.html.j2"]
    counted(_page_env(trim_blocks=False)).get_template("report.html.j2")  # other settings: compiled again
    assert builds == ["report.html.j2", "report.html.j2"]


def test_an_unusable_template_cache_never_fails_the_page(tmp_path: Path):
    folder = tmp_path / "cache"
    folder.mkdir()
    compile_cache.use_cache(FileSystemBytecodeCache(str(folder), pattern="__auditor_%s.cache"))
    try:
        env = _page_env(trim_blocks=True)
        env.bytecode_cache = compile_cache.template_cache()
        assert env.get_template("report.html.j2") is not None and list(folder.iterdir())  # stored
        for entry in folder.iterdir():
            entry.write_bytes(b"not bytecode at all")  # corrupt: compiled instead
        env = _page_env(trim_blocks=True)
        env.bytecode_cache = compile_cache.template_cache()
        assert env.get_template("report.html.j2") is not None
        for entry in folder.iterdir():
            entry.unlink()
        folder.rmdir()  # cannot be written: compiled, and the page is still made
        env = _page_env(trim_blocks=True)
        env.bytecode_cache = compile_cache.template_cache()
        assert env.get_template("report.html.j2") is not None
    finally:
        compile_cache.use_cache(None)
        compile_cache._READY = False
