"""RunResult's repr is a summary: CPython 3.11's asyncio.run() formats the repr of the main task at exit,
which holds the result (reprlib cuts it to length only after building all of it)."""

from __future__ import annotations

from tests.report_factory import make_run


def test_repr_and_str_summarise_a_big_run_instead_of_printing_every_host():
    run = make_run(500, hostile=False)
    for text in (repr(run), str(run)):
        assert len(text) < 300, text[:500]
        assert "hosts=500" in text and repr(run.run_id) in text
        assert run.hosts[0].name not in text

