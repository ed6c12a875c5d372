"""Edge-node path: collector outputs -> parsers -> ``mirrored.edge`` deriver -> shipped checks -> verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.checks import evaluate_checks
from auditor.mirrored.edge import derive_edge, host_kind
from auditor.mirrored.verdicts import edge_verdict
from auditor.parsers.registry import CollectorOutput, ParseError, get_parser
from auditor.playbook.loader import load_playbook
from auditor.results import CheckStatus

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "data" / "samples"
PLAY = load_playbook(ROOT / "playbooks" / "edge-nodes.yml").plays[0]
PARSERS = {c.name: c.parser for c in PLAY.gather["linux"]}

LAN_ADDR = json.dumps([{"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host"}]},
                       {"ifname": "enp3s0", "addr_info": [{"family": "inet", "local": "192.168.10.41", "prefixlen": 24, "scope": "global"}]},
                       {"ifname": "docker0", "addr_info": [{"family": "inet", "local": "172.17.0.1", "prefixlen": 16, "scope": "global"}]}])
LAN_ROUTE = json.dumps([{"dst": "default", "gateway": "192.168.10.1", "dev": "enp3s0"}])
BRIDGE_ADDR = json.dumps([{"ifname": "eth0", "addr_info": [{"family": "inet", "local": "172.17.0.2", "prefixlen": 16, "scope": "global"}]}])
BRIDGE_ROUTE = json.dumps([{"dst": "default", "gateway": "172.17.0.1", "dev": "eth0"}])


def inspect(name: str, mode: str, labels: dict[str, str] | None = None, cid: str = "c0ffee0000000001") -> dict[str, Any]:
    return {"Id": cid, "Name": "/" + name, "State": {"Running": True}, "HostConfig": {"NetworkMode": mode},
            "Config": {"Labels": labels or {}}, "NetworkSettings": {"Networks": {mode: {"IPAddress": ""}}}}


def host(*, kernel="6.8.0-45-generic", version="docker_version_native.json", info="docker_info_native.json", context="default",
         containers=None, nets=None, addr=LAN_ADDR, route=LAN_ROUTE, wslinfo="wslinfo: not found", loopback0="[]") -> dict[str, bytes]:
    containers = containers if containers is not None else [inspect("edge-node", "host")]
    nets = nets if nets is not None else {"c0ffee0000000001": (addr, route)}
    cn = "".join(f"@@container {cid}\n{a}\n@@route {cid}\n{r}\n" for cid, (a, r) in nets.items())
    return {"uname": kernel.encode(), "os_release": b'ID=ubuntu\nPRETTY_NAME="Ubuntu 24.04.1 LTS"\n', "docker_context": context.encode(),
            "docker_version": (SAMPLES / version).read_bytes() if version else b"", "docker_info": (SAMPLES / info).read_bytes() if info else b"",
            "docker_ps": b"", "docker_inspect": json.dumps(containers).encode() if containers else b"", "host_addr": addr.encode(),
            "host_route": route.encode(), "loopback0": loopback0.encode(), "wslinfo": wslinfo.encode(), "container_net": cn.encode()}


def run(outputs: dict[str, bytes], variables: dict[str, Any] | None = None):
    facts: dict[str, Any] = {"_errors": {}}
    for name, data in outputs.items():
        try:
            facts[name] = get_parser(PARSERS[name])(CollectorOutput(name, data, b"", 0 if data else 1))  # type: ignore[misc]
        except ParseError as exc:
            facts["_errors"][name] = str(exc)
    variables = {**PLAY.vars, **(variables or {})}
    facts.update(derive_edge(facts, variables))
    ctx = {"facts": facts, "vars": variables, "host": {"name": "e", "address": "127.0.0.1", "groups": [], "platform": "linux"}, "enabled": set()}
    checks = evaluate_checks(PLAY.checks, ctx, "linux", set())
    errors = {c.id: c.message for c in checks if c.status == CheckStatus.error}
    assert not errors, errors
    return facts, {c.id: c for c in checks}, edge_verdict(facts, checks, variables)


def test_native_host_mode_edge_is_ok():
    facts, checks, verdict = run(host())
    assert facts["host_lan"]["addrs"] == ["192.168.10.41"] and facts["edge"]["containers"][0]["sees_host_lan"]
    assert all(checks[i].status == CheckStatus.passed for i in ("L-DK-01", "L-EDGE-01", "L-EDGE-02", "L-EDGE-03"))
    assert checks["L-WSL-01"].status == CheckStatus.not_applicable
    assert verdict.name == "EDGE_OK" and verdict.confidence.value == "high"


def test_docker_desktop_host_mode_has_no_lan_visibility():
    dd_addr = (SAMPLES / "ip_addr_dd_container.json").read_text()
    dd_route = (SAMPLES / "ip_route_dd_container.json").read_text()
    facts, checks, verdict = run(host(kernel="6.10.14-linuxkit", version="docker_version_dd.json", info="docker_info_dd.json",
                                      context="desktop-linux", nets={"c0ffee0000000001": (dd_addr, dd_route)}))
    assert facts["engine"]["kind"] == "docker-desktop" and facts["host_kind"]["kind"] == "docker-desktop-vm"
    assert checks["L-DK-01"].status == CheckStatus.failed
    assert checks["L-EDGE-02"].status == CheckStatus.failed and checks["L-EDGE-03"].status == CheckStatus.failed
    assert verdict.name == "EDGE_NO_LAN_VISIBILITY" and verdict.confidence.value == "high" and "L-EDGE-02" in verdict.decided_by


def test_custom_docker_desktop_subnet_var():
    addr = BRIDGE_ADDR.replace("172.17.0.2", "10.99.0.3")
    facts, checks, _ = run(host(nets={"c0ffee0000000001": (addr, "[]")}), {"docker_desktop_subnet": "10.99.0.0/24"})
    assert checks["L-EDGE-02"].status == CheckStatus.failed and facts["edge"]["dd_subnet"] == "10.99.0.0/24"


def test_native_bridge_edge_is_not_host_network():
    _, checks, verdict = run(host(containers=[inspect("edge", "bridge")], nets={"c0ffee0000000001": (BRIDGE_ADDR, BRIDGE_ROUTE)}))
    assert checks["L-EDGE-01"].status == CheckStatus.failed and verdict.name == "EDGE_NOT_HOST_NETWORK"


def test_wsl_nat_edge():
    facts, checks, verdict = run(host(kernel="6.6.87.2-microsoft-standard-WSL2", wslinfo="nat"))
    assert checks["L-WSL-01"].status == CheckStatus.failed and verdict.name == "EDGE_WSL_NAT" and verdict.confidence.value == "high"


def test_wsl_mirrored_docker_ce_ok_and_engine_fix():
    old = (SAMPLES / "docker_version_native.json").read_text().replace("27.3.1", "26.1.4")
    facts, checks, verdict = run({**host(kernel="6.6.87.2-microsoft-standard-WSL2", wslinfo="mirrored", loopback0='[{"ifname":"loopback0"}]'),
                                  "docker_version": old.encode()})
    assert checks["L-WSL-01"].status == CheckStatus.passed
    assert checks["L-DK-02"].status == CheckStatus.failed and "26.1.4" in checks["L-DK-02"].message
    assert verdict.name == "EDGE_OK"


def test_wsl_without_wslinfo_is_nat_by_inference():
    _, _, verdict = run(host(kernel="5.15.153.1-microsoft-standard-WSL2"))
    assert verdict.name == "EDGE_WSL_NAT" and verdict.confidence.value == "medium" and verdict.notes


def test_docker_unreachable_is_inconclusive():
    facts, checks, verdict = run(host(version=None, info=None, containers=[], nets={}))
    assert checks["L-DK-01"].status == CheckStatus.skipped
    assert verdict.name == "INCONCLUSIVE" and verdict.confidence.value == "low"


def test_edge_container_not_found():
    facts, checks, verdict = run(host(containers=[inspect("db", "bridge")]))
    assert checks["L-EDGE-01"].status == CheckStatus.failed and verdict.name == "INCONCLUSIVE" and "edge_containers" in verdict.remediation[0]


@pytest.mark.parametrize("variables, containers, chosen", [
    ({"edge_containers": ["gw"]}, [inspect("gw", "host"), inspect("edge-x", "bridge", cid="2")], ["gw"]),
    ({}, [inspect("gw", "host", {"auditor.edge": "true"}), inspect("edge-x", "bridge", cid="2")], ["gw"]),
    ({}, [inspect("gw", "host", {"auditor.edge": "false"}), inspect("my-EDGE", "host", cid="2")], ["my-EDGE"]),
    ({"edge_name_pattern": "gw"}, [inspect("gw-1", "host"), inspect("edge", "host", cid="2")], ["gw-1"]),
])
def test_edge_selection_rules(variables, containers, chosen):
    facts, _, _ = run(host(containers=containers), variables)
    assert [c["name"] for c in facts["edge"]["containers"]] == chosen


@pytest.mark.parametrize("kernel, kind", [("6.8.0-45-generic", "native"), ("6.6.87.2-microsoft-standard-WSL2", "wsl"),
                                          ("6.10.14-linuxkit", "docker-desktop-vm"), ("", "unknown")])
def test_host_kind(kernel, kind):
    assert host_kind(kernel, {})["kind"] == kind
