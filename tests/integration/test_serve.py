"""``auditor serve`` (issue 17) as a real process on loopback, scanning a real lab fleet into a real store:
schedules produce stored runs, a slow scan is never overlapped, SIGTERM mid-scan leaves a resumable run and exit 0,
the token guards every page and API call, bad configs are refused at file:line:col."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from auditor.store import RunState, open_store
from tests.serve_fixtures import ROOT, fleet_of, lab_schedule, serving, wait_until, write_config

pytestmark = pytest.mark.integration
TOKEN = "s3cret-token-for-tests-0123456789"


def _runs_of(served, name: str) -> list[dict]:  # type: ignore[no-untyped-def]
    ids = set(served.schedule(name)["runs"])
    return [r for r in served.json("/api/runs?limit=200") if r["id"] in ids]


def test_every_schedule_records_runs_and_sigterm_mid_scan_leaves_a_resumable_run(tmp_path: Path) -> None:
    fleet = fleet_of(["win-conflict-confirmed", "win-healthy-nat", "edge-ok-native", "win-healthy-nat"],
                     {3: {"slow": 1.0}})
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        with serving(tmp_path, [lab_schedule("fleet", inventory, known, every="3s")]) as served:
            def two_done() -> list[dict] | None:
                info = served.schedule("fleet")
                done = [r for r in _runs_of(served, "fleet") if r["id"] != info["running"]]
                return done[:2] if len(done) >= 2 else None

            complete = wait_until("two scheduled scans to end", two_done, 120, served.proc)
            assert [r["state"] for r in complete] == ["complete", "complete"]
            assert all(r["hosts_recorded"] == 4 for r in complete)
            # each scan wrote its reports into the schedule's folder, named by its run id
            for r in complete:
                assert list((tmp_path / "reports" / "fleet").glob(f"auditor-*-{r['id']}.html"))
            # the metrics say so too
            status, _, body = served.request("/metrics")
            text = body.decode()
            assert status == 200 and 'auditor_scans_total{result="complete",schedule="fleet"}' in text
            assert 'auditor_fleet_hosts_by_verdict{verdict="CONFLICT_CONFIRMED"} 1.0' in text
            # stop it while a scan is in flight
            in_flight = wait_until("a scan in flight", lambda: served.schedule("fleet")["running"], 60, served.proc)
            with open_store(served.store_url) as store:
                wait_until("the scan's run to be stored", lambda: any(r.id == in_flight for r in store.list_runs(5)), 60)
            code, err = served.stop()
        assert code == 0, err[-3000:]
        assert "Traceback" not in err
        with open_store(served.store_url) as store:
            assert store.get_run(in_flight).state is RunState.interrupted
        # and the interrupted run can be finished by hand
        resumed = subprocess.run([sys.executable, "-m", "auditor", "run", "--resume", in_flight, "--store", served.store_url,
                                  "--host-key-checking", "strict", "--known-hosts", str(known), "-o", str(tmp_path / "resumed"),
                                  "-q"], cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert resumed.returncode in (2, 3), resumed.stdout + resumed.stderr
    with open_store(served.store_url) as store:
        run = store.get_run(in_flight)
        assert run.state is RunState.complete and len(store.recorded_hosts(in_flight)) == 4


def test_a_scan_that_outlasts_its_interval_is_never_overlapped(tmp_path: Path) -> None:
    fleet = fleet_of(["win-healthy-nat", "edge-ok-native"], {0: {"slow": 2.5}})
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        with serving(tmp_path, [lab_schedule("slow", inventory, known, every="1s")]) as served:
            wait_until("two finished scans and a skipped start", lambda: len(
                [r for r in _runs_of(served, "slow") if r["finished"]]) >= 2 and served.schedule("slow")["skipped"], 120,
                served.proc)
            schedule = served.schedule("slow")
            runs = sorted(_runs_of(served, "slow"), key=lambda r: r["started"])
            code, err = served.stop()
    assert code == 0, err[-2000:]
    assert {s["reason"] for s in schedule["skipped"]} == {"overlap"}
    finished = [r for r in runs if r["finished"]]
    for earlier, later in zip(finished, finished[1:]):
        assert datetime.fromisoformat(earlier["finished"]) <= datetime.fromisoformat(later["started"]), (earlier, later)
    assert "run skipped (overlap)" in err


def test_run_now_starts_a_scan_and_refuses_a_second_while_it_runs(tmp_path: Path) -> None:
    fleet = fleet_of(["win-healthy-nat"], {0: {"slow": 2.0}})
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        schedules = [lab_schedule("nightly", inventory, known, cron="0 3 * * *", timezone="Europe/Berlin")]
        with serving(tmp_path, schedules, token=TOKEN) as served:
            info = served.schedule("nightly")
            assert info["trigger"] == "cron: 0 3 * * * Europe/Berlin" and info["next_run"].endswith("+01:00")
            status, _, body = served.request("/api/schedules/nightly/run", method="POST")
            assert status == 202 and json.loads(body) == {"schedule": "nightly", "started": True}
            wait_until("the scan to start", lambda: served.schedule("nightly")["running"], 30, served.proc)
            assert served.request("/api/schedules/nightly/run", method="POST")[0] == 409
            assert served.request("/api/schedules/nope/run", method="POST")[0] == 404
            run_id = wait_until("the scan to finish", lambda: served.schedule("nightly")["last_run"], 60, served.proc)
            detail = served.json(f"/api/runs/{run_id}")
            assert detail["run"]["state"] == "complete" and [h["host"] for h in detail["hosts"]] == [fleet.hosts[0].name]
            assert served.stop()[0] == 0
        # a restarted server remembers what its schedules did (STATE_DIR/scans.jsonl)
        with serving(tmp_path, schedules, token=TOKEN) as again:
            info = again.schedule("nightly")
            assert info["runs"] == [run_id] and info["last_run"] == run_id and info["last_success"] is not None
            metrics = again.request("/metrics")[2].decode()
            assert 'auditor_schedule_last_success_timestamp_seconds{schedule="nightly"} 0.0' not in metrics
            assert again.stop()[0] == 0


def test_every_page_and_api_call_needs_the_token(tmp_path: Path) -> None:
    with serving(tmp_path, [], token=TOKEN) as served:
        for path in ["/api/runs", "/api/hosts", "/api/schedules", "/api/fleet", "/api/waivers", "/metrics", "/openapi.json"]:
            status, headers, _ = served.request(path, token=None)
            assert status == 401 and headers["www-authenticate"].startswith("Bearer"), path
            assert served.request(path, token="wrong-token-wrong-token")[0] == 401, path
            assert served.request(path)[0] == 200, path
        for path in ["/", "/hosts", "/runs", "/waivers", "/hosts/x"]:
            status, headers, _ = served.request(path, token=None)
            assert status == 303 and headers["location"] == "/login", path
        assert served.request("/api/schedules/x/run", method="POST", token=None)[0] == 401
        assert served.request("/healthz", token=None)[0] == 200  # liveness only: says nothing about the fleet
        # the login form: a wrong token is refused, the right one sets an HttpOnly SameSite cookie (not the token)
        status, _, body = served.request("/login", method="POST", token=None, data=b"token=nope")
        assert status == 401 and b"not the token" in body
        status, headers, _ = served.request("/login", method="POST", token=None, data=f"token={TOKEN}".encode())
        cookie = headers["set-cookie"]
        assert status == 303 and "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
        session = cookie.split(";", 1)[0]
        status, headers, body = served.request("/", token=None, headers={"Cookie": session})
        assert status == 200 and b"No complete audit yet" in body
        assert "script-src" not in headers["content-security-policy"] and "default-src 'none'" in headers["content-security-policy"]
        # a cross-site form post is refused even with the cookie
        assert served.request("/schedules/x/run", method="POST", token=None,
                              headers={"Cookie": session, "Origin": "http://evil.example"})[0] == 403
        assert served.stop()[0] == 0


def test_without_a_token_only_loopback_names_are_answered(tmp_path: Path) -> None:
    with serving(tmp_path, []) as served:
        assert served.request("/api/runs")[0] == 200
        assert served.request("/api/runs", headers={"Host": "attacker.example:8765"})[0] == 421  # DNS rebinding
        assert served.request("/api/schedules/x/run", method="POST", headers={"Origin": "http://attacker.example"})[0] == 403
        assert served.stop()[0] == 0


@pytest.mark.parametrize("config, expected", [
    ("listen: 0.0.0.0:8765\n", "serve.yml:1:9: listening on 0.0.0.0:8765 (not loopback only) needs 'token_file'"),
    ("schedules:\n  - name: a\n    playbooks: [x.yml]\n    inventory: i.yml\n    cron: '61 * * * *'\n",
     "serve.yml:5:11: 'cron': not a valid cron expression"),
    ("schedules:\n  - name: a\n    playbooks: [x.yml]\n    inventory: i.yml\n    every: 5s\n    cron: '* * * * *'\n",
     "serve.yml:2:5: schedule: give either 'cron' or 'every' (exactly one)"),
    ("schedules:\n  - name: a\n    playbooks: [x.yml]\n    inventory: i.yml\n    every: soon\n",
     "serve.yml:5:12: 'every': 'soon' is not a duration"),
    ("schedules:\n  - name: a\n    playbooks: [x.yml]\n    inventory: i.yml\n    every: 5s\n    timezone: Mars/Olympus\n",
     "serve.yml:6:15: 'timezone': unknown IANA time zone 'Mars/Olympus'"),
    ("schedule: []\n", "serve.yml:1:1: unknown key 'schedule'"),
    ("token_file: missing\n", "serve.yml:1:13: cannot read the token file"),
])
def test_a_bad_config_is_refused_at_file_line_col_with_exit_4(tmp_path: Path, config: str, expected: str) -> None:
    path = tmp_path / "serve.yml"
    path.write_text(config)
    proc = subprocess.run([sys.executable, "-m", "auditor", "serve", "--config", str(path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        config, _, _ = write_config(tmp_path, [], port=held.getsockname()[1])
        proc = subprocess.run([sys.executable, "-m", "auditor", "serve", "--config", str(config)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 4, proc.stderr
    assert "cannot listen on 127.0.0.1:" in proc.stderr and "Traceback" not in proc.stderr


def test_one_webhook_per_transition_after_a_remediation_between_two_scans(tmp_path: Path) -> None:
    from tests.notify_receivers import HttpRecorder
    from tests.serve_fixtures import REVERT

    fleet = fleet_of(["win-conflict-confirmed", "win-at-risk-mirrored-docker", "win-healthy-nat", "edge-ok-native"])
    fixable = sorted(h.name for h in fleet.hosts if h.member.scenario.name != "win-healthy-nat" and h.platform == "windows")
    with fleet.running(), HttpRecorder().running() as receiver:
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        schedule = lab_schedule("fleet", inventory, known, cron="0 3 * * *",
                                notify=[{"webhook": {"url": receiver.url(), "per_event": True}}])
        with serving(tmp_path, [schedule]) as served:
            def scan() -> str:
                before = served.schedule("fleet")["last_run"]
                assert served.request("/api/schedules/fleet/run", method="POST")[0] == 202
                return wait_until("the scan to end", lambda: (lambda last: last if last and last != before else None)(
                    served.schedule("fleet")["last_run"]), 120, served.proc)

            first = scan()
            served.log.wait_for(f"run {first}: no transition, nothing sent")  # the baseline scan sends nothing
            fix = subprocess.run([sys.executable, "-m", "auditor", "remediate", str(REVERT), "-i", str(inventory), "--yes",
                                  "--enable", "restart", "--host-key-checking", "strict", "--known-hosts", str(known),
                                  "-o", str(tmp_path / "fix"), "-q", "--store", "none"],
                                 cwd=ROOT, capture_output=True, text=True, timeout=180)
            assert fix.returncode == 0, fix.stdout + fix.stderr
            second = scan()
            receiver.wait_for(len(fixable))
            third = scan()  # nothing changed since the second: nothing is sent again
            served.log.wait_for(f"run {third}: no transition, nothing sent")
            code, err = served.stop()
    assert code == 0, err[-2000:]
    bodies = [r.json() for r in receiver.received]
    assert len(bodies) == len(fixable), bodies
    events = [(h["host"], h["change"]) for body in bodies for h in body["hosts"]]
    assert sorted(events) == [(name, "fixed") for name in fixable]
    assert all(body["run_id"] == second and body["previous_run_id"] == first and body["schedule"] == "fleet" for body in bodies)
    assert "Lab-Passw0rd" not in json.dumps(bodies)
