"""Compiled playbook expressions kept between runs, in Jinja2's own bytecode cache.

Compiling the ~200 expressions and messages of the shipped playbooks is about 0.12 s of every run's
start-up (Jinja2 generates Python source and compiles it). Jinja2's ``FileSystemBytecodeCache``
keeps the resulting code objects in a per-user directory that it creates and checks (owned by the
user, mode 0700) under the temp directory. Entries are keyed by the exact source text and a
fingerprint of the environment (auditor, Jinja2 and Python versions, the sandbox class, its filters
and tests), so an edited expression or a changed environment never reuses stale code, and the
bytecode header rejects another Python. ``AUDITOR_COMPILE_CACHE=off`` turns it off; a cache that
cannot be used is skipped: compiling is always the fallback.
"""

from __future__ import annotations

import os
import sys
from types import CodeType
from typing import Callable

import jinja2
from jinja2 import Environment
from jinja2.bccache import Bucket, FileSystemBytecodeCache

import auditor

_CACHE: FileSystemBytecodeCache | None = None
_READY = False


def _cache() -> FileSystemBytecodeCache | None:
    global _CACHE, _READY
    if not _READY:
        _READY = True
        if os.environ.get("AUDITOR_COMPILE_CACHE", "").strip().lower() not in ("off", "0", "false", "no"):
            try:
                _CACHE = FileSystemBytecodeCache(pattern="__auditor_%s.cache")
            except (RuntimeError, OSError):  # no safe directory: compile every time
                _CACHE = None
    return _CACHE


def use_cache(cache: FileSystemBytecodeCache | None) -> None:
    """Replace the cache (tests; None disables it)."""
    global _CACHE, _READY
    _CACHE, _READY = cache, True


def fingerprint(env: Environment) -> str:
    """What the generated code depends on besides its source."""
    return "|".join([
        auditor.__version__, jinja2.__version__, sys.version.split()[0], type(env).__qualname__,
        ",".join(sorted(env.filters)), ",".join(sorted(env.tests)),
        repr((env.autoescape if isinstance(env.autoescape, bool) else getattr(env.autoescape, "__qualname__", "?"),
              env.trim_blocks, env.lstrip_blocks, env.keep_trailing_newline, env.newline_sequence,
              env.undefined.__qualname__, env.optimized)),
    ])


class _TemplateCache(FileSystemBytecodeCache):
    """The same cache for a template environment's own templates (the HTML report's page: ~50 ms to compile in
    every run). Jinja2 keys a template's code by its name and file only: the environment's fingerprint goes in too,
    so code compiled under other settings or versions is never reused; and a cache that cannot be read or written
    never fails a report."""

    def get_bucket(self, environment: Environment, name: str, filename: str | None, source: str) -> Bucket:
        return super().get_bucket(environment, f"{fingerprint(environment)}\n{name}", filename, source)

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # noqa: BLE001 - an unreadable or corrupt entry: compile instead
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:  # full disk, read-only temp dir: the report is still written
            pass


def template_cache() -> FileSystemBytecodeCache | None:
    """A bytecode cache for a template ``Environment`` (``env.bytecode_cache``) in the same place as the expressions';
    None when caching is off."""
    cache = _cache()
    if cache is None:
        return None
    return _TemplateCache(cache.directory, cache.pattern)


def cached_code(env: Environment, kind: str, source: str, build: Callable[[], CodeType]) -> CodeType:
    """The code object for ``source``: from the cache, or ``build()`` (whose errors propagate) and stored."""
    cache = _cache()
    if cache is None:
        return build()
    try:
        bucket = cache.get_bucket(env, f"{fingerprint(env)}\n{kind}\n{source}", None, source)
    except Exception:  # noqa: BLE001 - an unreadable or corrupt entry must never fail a run
        return build()
    if bucket.code is not None:
        return bucket.code
    bucket.code = build()
    try:
        cache.set_bucket(bucket)
    except OSError:  # full disk, read-only temp dir: the run goes on
        pass
    return bucket.code
