"""auditor inventory vs ansible-core itself, over the corpus in tests/data/inventories/.

For every case (a folder with a ``case.yml``), both tools read the same sources from the same
working directory and must agree on: ``--list`` (JSON equality), ``--graph`` [GROUP] (text
equality), ``--host NAME`` (JSON equality) and the hosts each pattern (with and without
``--limit``) selects. ansible answers through tests/data/inventories/ansible_oracle.py, which
imports ansible once and forks per request; the corpus is split over two such processes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

pytest.importorskip("ansible")

from auditor import cli as auditor_cli  # noqa: E402

# auditor.cli.main() mounts every area's commands on each call (fine for one process per command);
# this module calls it ~1000 times in one process, so mount once and keep that.
auditor_cli._mount_areas()
auditor_cli._mount_areas = lambda: None

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "data" / "inventories"
ORACLE = CORPUS / "ansible_oracle.py"
CASES = sorted(d.name for d in CORPUS.iterdir() if (d / "case.yml").is_file())
DEFAULT_PATTERNS = ["all", "*", "ungrouped", "all:!ungrouped"]
WORKERS = 2


def _case(name: str) -> dict:
    spec = yaml.safe_load((CORPUS / name / "case.yml").read_text()) or {}
    spec.setdefault("patterns", [])
    spec.setdefault("graph_groups", [])
    spec.setdefault("hosts", [])
    spec.setdefault("limits", [])
    return spec


def _common_args(spec: dict) -> list[str]:
    args: list[str] = []
    for source in spec["sources"]:
        args += ["-i", source]
    for f in spec.get("vault_password_files", []):
        args += ["--vault-password-file", f]
    for v in spec.get("vault_ids", []):
        args += ["--vault-id", v]
    return args


def _pattern_queries(spec: dict) -> list[list]:
    queries = [[p, None] for p in DEFAULT_PATTERNS + spec["patterns"]]
    for limit in spec["limits"]:
        queries += [[p, limit] for p in ["all", *spec["patterns"][:3]]]
    return queries


def _requests(name: str, spec: dict, host_names: list[str]) -> dict[str, dict]:
    cwd = str(CORPUS / name)
    common = _common_args(spec)
    reqs: dict[str, dict] = {
        "list": {"kind": "inventory", "argv": ["ansible-inventory", *common, "--list"]},
        "graph": {"kind": "inventory", "argv": ["ansible-inventory", *common, "--graph"]},
        "patterns": {"kind": "patterns", "argv": ["ansible-inventory", *common, "--list"],
                     "patterns": _pattern_queries(spec)},
    }
    for limit in spec["limits"]:
        reqs[f"list@{limit}"] = {"kind": "inventory", "argv": ["ansible-inventory", *common, "--list", "--limit", limit]}
    for group in spec["graph_groups"]:
        reqs[f"graph:{group}"] = {"kind": "inventory", "argv": ["ansible-inventory", *common, "--graph", group]}
    for host in host_names:
        reqs[f"host:{host}"] = {"kind": "inventory", "argv": ["ansible-inventory", *common, "--host", host]}
    if spec["patterns"]:  # the real `ansible PATTERN --list-hosts` once per case, to tie the batch to the CLI
        reqs["adhoc"] = {"kind": "adhoc", "argv": ["ansible", spec["patterns"][0], *common, "--list-hosts"]}
    for r in reqs.values():
        r["cwd"] = cwd
    return reqs


def _hosts_to_show(spec: dict, names: list[str]) -> list[str]:
    picked = list(spec["hosts"]) + names[:1] + names[-1:]
    return list(dict.fromkeys(picked))


def _run_oracle(batch: list[dict]) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        req, res = Path(tmp, "req.json"), Path(tmp, "res.json")
        req.write_text(json.dumps(batch))
        env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(Path(tmp, "ansible-home"))}
        subprocess.run([sys.executable, str(ORACLE), str(req), str(res)], check=True, env=env, timeout=600,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.loads(res.read_text())


def auditor(cwd: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            rc = auditor_cli.main(["inventory", *args])
    finally:
        os.chdir(old)
    return rc, out.getvalue()


@pytest.fixture(scope="module")
def answers() -> dict[str, dict[str, dict]]:
    """ansible's answer to every request of every case, computed once for the module."""
    keyed: list[tuple[str, str, dict]] = []
    for name in CASES:
        spec = _case(name)
        rc, text = auditor(CORPUS / name, *_common_args(spec), "--list-hosts", "all")
        for key, req in _requests(name, spec, _hosts_to_show(spec, text.split())).items():
            keyed.append((name, key, req))
    batches = [keyed[i::WORKERS] for i in range(WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda b: _run_oracle([r for _, _, r in b]), batches))
    out: dict[str, dict[str, dict]] = {}
    for batch, result in zip(batches, results):
        for (name, key, _), answer in zip(batch, result):
            out.setdefault(name, {})[key] = answer
    return out


def test_corpus_is_big_enough():
    assert len(CASES) >= 30, CASES


@pytest.mark.parametrize("name", CASES)
def test_list_matches_ansible(name, answers):
    spec = _case(name)
    theirs = answers[name]["list"]
    assert theirs["rc"] == 0, theirs["stderr"][-2000:]
    rc, ours = auditor(CORPUS / name, *_common_args(spec), "--list")
    assert rc == 0
    assert json.loads(ours) == json.loads(theirs["stdout"])
    for limit in spec["limits"]:
        theirs = answers[name][f"list@{limit}"]
        rc, ours = auditor(CORPUS / name, *_common_args(spec), "--list", "--limit", limit)
        assert (rc, json.loads(ours)) == (theirs["rc"], json.loads(theirs["stdout"])), limit


@pytest.mark.parametrize("name", CASES)
def test_graph_matches_ansible(name, answers):
    spec = _case(name)
    for key, extra in [("graph", []), *((f"graph:{g}", [g]) for g in spec["graph_groups"])]:
        theirs = answers[name][key]
        rc, ours = auditor(CORPUS / name, *_common_args(spec), "--graph", *extra)
        assert rc == theirs["rc"] == 0, (key, theirs["stderr"][-2000:])
        assert ours == theirs["stdout"], key


@pytest.mark.parametrize("name", CASES)
def test_host_matches_ansible(name, answers):
    spec = _case(name)
    keys = [k for k in answers[name] if k.startswith("host:")]
    assert keys, "every case shows at least one host"
    for key in keys:
        theirs = answers[name][key]
        rc, ours = auditor(CORPUS / name, *_common_args(spec), "--host", key[5:])
        assert rc == theirs["rc"] == 0, (key, theirs["stderr"][-2000:])
        assert json.loads(ours) == json.loads(theirs["stdout"]), key


@pytest.mark.parametrize("name", CASES)
def test_patterns_select_like_ansible(name, answers):
    spec = _case(name)
    queries = _pattern_queries(spec)
    theirs = json.loads(answers[name]["patterns"]["stdout"])
    for (pattern, limit), expected in zip(queries, theirs):
        args = [*_common_args(spec), "--list-hosts", pattern] + (["--limit", limit] if limit else [])
        rc, ours = auditor(CORPUS / name, *args)
        if isinstance(expected, dict):  # ansible refused the pattern: so must we
            assert rc != 0, (pattern, limit, expected)
        elif not expected:  # ansible warns "No hosts matched" (exit 0); auditor says so and exits 4, as scripts want
            assert rc == 4, (pattern, limit)
        else:
            assert rc == 0, (pattern, limit)
            assert ours.split() == expected, (pattern, limit)
    if "adhoc" in answers[name]:
        adhoc = answers[name]["adhoc"]
        listed = [line.strip() for line in adhoc["stdout"].splitlines()[1:] if line.strip()]
        first = theirs[0 if not spec["patterns"] else len(DEFAULT_PATTERNS)]
        if adhoc["rc"] == 0 and isinstance(first, list):
            assert listed == first, "the batched pattern answers must equal `ansible PATTERN --list-hosts`"
