"""Waiver files: strict loading with file:line:col, host scopes, and the active / expired / none decision."""

from __future__ import annotations

from datetime import date

import pytest

from auditor.errors import BadInputError, ExitCode
from auditor.inventory import load_inventory
from auditor.waivers import (
    WaiverState,
    bind,
    bind_hosts,
    decide,
    load_waivers,
    waivers_expiring,
    waivers_in_force,
)

GOOD = """\
# InSpec's format, plus hosts and approver
W-CFG-02:
  justification: "Hyper-V lab machines need mirrored mode. @secteam"
  expiration_date: 2027-03-31
  hosts: "windows:!win-dev-0002"
  approver: J. Smith
W-DD-01:
  justification: Docker Desktop is being retired here
  run: no
playbooks/edge.yml/Edge audit/L-EDGE-02:
  justification: edge lab without LAN
  expiration_date: "2026-12-01"
  hosts: [edge-0001, edge-0003]
L-EDGE-02:
  justification: all edge nodes, permanent
  run: false
"""
HOSTS = [("win-dev-0001", ["windows"]), ("win-dev-0002", ["windows"]), ("edge-0001", ["edge"]),
         ("edge-0002", ["edge"]), ("edge-0003", ["edge"])]


@pytest.fixture
def waivers(tmp_path):
    path = tmp_path / "waivers.yml"
    path.write_text(GOOD)
    return load_waivers(path)


def test_inspec_fields_and_auditor_scope_load(waivers):
    w = waivers.waivers["W-CFG-02"]
    assert w.justification.startswith("Hyper-V") and w.expiration_date == date(2027, 3, 31)
    assert w.run is True and w.hosts == "windows:!win-dev-0002" and w.approver == "J. Smith"
    assert waivers.waivers["W-DD-01"].run is False and waivers.waivers["W-DD-01"].hosts == "all"
    assert waivers.waivers["playbooks/edge.yml/Edge audit/L-EDGE-02"].hosts == "edge-0001,edge-0003"
    assert list(waivers.waivers) == ["W-CFG-02", "W-DD-01", "playbooks/edge.yml/Edge audit/L-EDGE-02", "L-EDGE-02"]


def test_active_waiver_within_its_host_scope(waivers):
    bound = bind_hosts(waivers, HOSTS)
    d = decide(bound, "win-dev-0001", "W-CFG-02", "pb/play/W-CFG-02", today=date(2027, 3, 30))
    assert d.state is WaiverState.active and d.should_run
    assert d.message == "waived (until 2027-03-31): Hyper-V lab machines need mirrored mode. @secteam"
    assert decide(bound, "win-dev-0002", "W-CFG-02", None, today=date(2027, 1, 1)).state is WaiverState.none
    assert decide(bound, "edge-0001", "W-CFG-02", None, today=date(2027, 1, 1)).state is WaiverState.none
    assert decide(bound, "win-dev-0001", "W-NET-01", None, today=date(2027, 1, 1)).state is WaiverState.none


def test_expires_at_the_start_of_the_expiration_date(waivers):
    bound = bind_hosts(waivers, HOSTS)
    assert decide(bound, "win-dev-0001", "W-CFG-02", None, today=date(2027, 3, 30)).state is WaiverState.active
    d = decide(bound, "win-dev-0001", "W-CFG-02", None, today=date(2027, 3, 31))
    assert d.state is WaiverState.expired and d.message == "waiver expired on 2027-03-31" and d.should_run


def test_run_false_skips_the_check_only_while_active(waivers):
    bound = bind_hosts(waivers, HOSTS)
    d = decide(bound, "edge-0002", "W-DD-01", None, today=date(2030, 1, 1))
    assert d.state is WaiverState.active and not d.should_run


def test_key_waiver_preferred_and_an_expired_one_yields_to_an_active_id_waiver(waivers):
    bound = bind_hosts(waivers, HOSTS)
    key = "playbooks/edge.yml/Edge audit/L-EDGE-02"
    d = decide(bound, "edge-0001", "L-EDGE-02", key, today=date(2026, 11, 1))
    assert d.state is WaiverState.active and d.check == key and d.should_run
    d = decide(bound, "edge-0001", "L-EDGE-02", key, today=date(2026, 12, 1))  # key waiver expired: id waiver rules
    assert d.state is WaiverState.active and d.check == "L-EDGE-02" and not d.should_run
    d = decide(bound, "edge-0002", "L-EDGE-02", key, today=date(2026, 11, 1))  # outside the key waiver's hosts
    assert d.check == "L-EDGE-02"


def test_expired_is_reported_when_no_other_waiver_applies(tmp_path):
    path = tmp_path / "w.yml"
    path.write_text("X-1:\n  justification: old\n  expiration_date: 2020-01-01\n")
    d = decide(bind_hosts(load_waivers(path), HOSTS), "edge-0001", "X-1", None, today=date(2026, 1, 1))
    assert d.state is WaiverState.expired and d.message == "waiver expired on 2020-01-01"


def test_scopes_resolve_against_a_real_inventory(waivers, tmp_path):
    inv = tmp_path / "inv.ini"
    inv.write_text("[windows]\nwin-dev-0001\nwin-dev-0002\n[edge]\nedge-0001\nedge-0003\n")
    bound = bind(waivers, load_inventory([str(inv)]))
    assert bound.hosts["W-CFG-02"] == frozenset({"win-dev-0001"})
    assert bound.hosts["W-DD-01"] is None


def test_in_force_and_expiring_within_14_days(waivers):
    today = date(2027, 3, 20)
    in_force = waivers_in_force(waivers, today=today)
    assert [w.check for w in in_force] == ["W-CFG-02", "L-EDGE-02", "W-DD-01"]  # soonest first, permanent last
    assert in_force[0].days_left == 11 and in_force[1].days_left is None
    assert [w.check for w in waivers_expiring(waivers, today=today)] == ["W-CFG-02"]
    assert waivers_expiring(waivers, today=date(2027, 3, 16)) == []
    assert [w.check for w in waivers_expiring(waivers, today=date(2027, 3, 17))] == ["W-CFG-02"]
    assert waivers_expiring(waivers, today=date(2027, 3, 31)) == []  # expired, no longer in force


@pytest.mark.parametrize("text,where,message", [
    ("W-1:\n  justification: x\n  expires: 2027-01-01\n", "3:3", "unknown key 'expires'"),
    ("W-1:\n  expiration_date: 2027-01-01\n", "2:3", "missing required key 'justification'"),
    ("W-1:\n  justification: '   '\n", "2:18", "must not be empty"),
    ("W-1:\n  justification: x\n  expiration_date: 31/03/2027\n", "3:20", "expected a date YYYY-MM-DD"),
    ("W-1:\n  justification: x\n  expiration_date: 2027-03-31 10:00:00\n", "3:20", "not a date and time"),
    ("W-1:\n  justification: x\n  run: maybe\n", "3:8", "expected true, false, yes or no"),
    ("W-1:\n  justification: x\n  hosts: '~(web'\n", "3:10", "invalid host pattern"),
    ("W-1:\n  justification: 42\n", "2:18", "valid string"),
    ("W-1: yes\n", "1:6", "expected a mapping with 'justification'"),
    ("- W-1\n", "1:1", "expected a mapping of check ids to waivers at the top level"),
    ("", "1:1", "the file is empty"),
    ("123:\n  justification: x\n", "1:1", "a check id must be a string"),
    ("W-1:\n  justification: x\nW-1:\n  justification: y\n", "3:1", "duplicate key 'W-1'"),
    ("W-1:\n  justification: [x\n", "3:1", "invalid YAML"),
])
def test_malformed_files_fail_at_file_line_col(tmp_path, text, where, message):
    path = tmp_path / "waivers.yml"
    path.write_text(text)
    with pytest.raises(BadInputError) as exc:
        load_waivers(path)
    assert exc.value.exit_code == ExitCode.BAD_INPUT
    assert str(exc.value).startswith(f"{path}:{where}: "), str(exc.value)
    assert message in str(exc.value)


def test_a_missing_file_is_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="waiver file not found"):
        load_waivers(tmp_path / "nope.yml")


def test_json_waiver_files_work_too(tmp_path):
    path = tmp_path / "waivers.json"
    path.write_text('{"W-1": {"justification": "j", "run": "no", "expiration_date": "2027-01-01"}}')
    w = load_waivers(path).waivers["W-1"]
    assert w.run is False and w.expiration_date == date(2027, 1, 1)


def test_an_unresolvable_scope_names_the_hosts_line(tmp_path):
    path = tmp_path / "w.yml"
    path.write_text("W-1:\n  justification: x\n  hosts: 'windows[5]'\n")
    with pytest.raises(BadInputError) as exc:
        bind_hosts(load_waivers(path), HOSTS)
    assert str(exc.value).startswith(f"{path}:3:10: 'hosts': no hosts matched the subscripted pattern")

