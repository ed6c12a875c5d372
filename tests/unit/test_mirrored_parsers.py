"""Table tests for the mirrored-mode parsers, and the property that they never raise anything but ParseError."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.parsers.registry import CollectorOutput, ParseError, get_parser, known_parsers

SAMPLES = Path(__file__).resolve().parents[2] / "tests" / "data" / "samples"


def out(data: bytes | str, rc: int | None = 0, stderr: bytes = b"") -> CollectorOutput:
    return CollectorOutput("c", data.encode() if isinstance(data, str) else data, stderr, rc)


def parse(name: str, data: bytes | str, rc: int | None = 0, stderr: bytes = b""):
    return get_parser(name)(out(data, rc, stderr))  # type: ignore[misc]


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


MIRRORED = [n for n in known_parsers() if n.startswith("mirrored.")]


def test_every_mirrored_parser_is_registered():
    assert {"mirrored.windows_audit", "mirrored.wsl_version", "mirrored.wsl_list", "mirrored.docker_ps", "mirrored.docker_version",
            "mirrored.docker_info", "mirrored.docker_inspect", "mirrored.docker_settings", "mirrored.docker_admin_settings",
            "mirrored.net_tcp", "mirrored.ip_addr", "mirrored.ip_route", "mirrored.wslinfo", "mirrored.container_net",
            "mirrored.user_context", "mirrored.probe"} <= set(MIRRORED)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=600), rc=st.sampled_from([0, 1, None]))
def test_parsers_never_raise_on_arbitrary_bytes(data, rc):
    for name in MIRRORED:
        try:
            get_parser(name)(out(data, rc))  # type: ignore[misc]
        except ParseError:
            pass


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4), max_leaves=25)
# Keys the parsers look for, so the arbitrary JSON actually reaches the shape-handling code.
keys = st.sampled_from(["schema", "os", "wsl", "profiles", "docker", "processes", "tcpListen", "udp", "wslEvents", "Client", "Server",
                        "Ports", "Names", "HostConfig", "NetworkSettings", "addr_info", "Http", "Listeners", "Cleanup", "OutputBase64",
                        "WslEngineEnabled", "linuxVM", "LocalPort", "State", "Labels", "dst", "gateway"])


@settings(max_examples=150, deadline=None)
@given(doc=st.dictionaries(keys, json_values, max_size=8) | st.lists(st.dictionaries(keys, json_values, max_size=5), max_size=3))
def test_parsers_never_raise_on_arbitrary_json(doc):
    if isinstance(doc, dict) and "schema" in doc:
        doc["schema"] = "wsl-docker-audit/1"
    for name in MIRRORED:
        try:
            get_parser(name)(out(json.dumps(doc)))  # type: ignore[misc]
        except ParseError:
            pass


# --- wsl.exe ---------------------------------------------------------------------------------

def test_wsl_version_utf16le_without_bom():
    v = parse("mirrored.wsl_version", sample("wsl_version_utf16le.bin"))
    assert v == {"wsl": "2.3.24.0", "kernel": "5.15.153.1-2", "wslg": "1.0.65", "msrdc": "1.2.5620",
                 "direct3d": "1.611.1-81528511", "dxcore": "10.0.26100.1-240331-1435.ge-release", "windows": "10.0.26100.2033"}


def test_wsl_version_localized_labels_by_position():
    v = parse("mirrored.wsl_version", sample("wsl_version_zh_utf16le.bin"))
    assert v["wsl"] == "2.2.4.0" and v["kernel"] == "5.15.153.1-2" and v["windows"] == "10.0.22631.3880"


def test_wsl_version_utf8_when_wsl_utf8_set():
    assert parse("mirrored.wsl_version", "WSL version: 2.6.1.0\nKernel version: 6.6.87.2-1\n")["wsl"] == "2.6.1.0"


def test_wsl_version_inbox_help_text_is_a_parse_error():
    with pytest.raises(ParseError, match="inbox"):
        parse("mirrored.wsl_version", "Usage: wsl.exe [Argument] [Options...] [CommandLine]".encode("utf-16-le"), rc=1)


def test_wsl_list_verbose():
    rows = parse("mirrored.wsl_list", sample("wsl_list_v_utf16le.bin"))
    assert rows[1] == {"name": "WSL2-Ubuntu-24.04", "state": "Running", "version": 2, "default": True}
    assert [r["name"] for r in rows] == ["Ubuntu-22.04", "WSL2-Ubuntu-24.04", "docker-desktop", "docker-desktop-data"]
    assert parse("mirrored.wsl_list", "Windows Subsystem for Linux has no installed distributions.\r\n".encode("utf-16-le")) == []


# --- docker ------------------------------------------------------------------------------------

def test_docker_ps_escaped_arrows_and_ranges():
    rows = parse("mirrored.docker_ps", sample("docker_ps.ndjson"))
    assert rows[0]["name"] == "web" and rows[0]["labels"] == {"maintainer": "NGINX", "com.example": "1"}
    assert rows[0]["ports"] == [{"host_ip": "0.0.0.0", "host_port": 8081, "container_port": 80, "proto": "tcp"},
                                {"host_ip": "::", "host_port": 8081, "container_port": 80, "proto": "tcp"}]
    assert {"host_ip": None, "host_port": None, "container_port": 5432, "proto": "tcp"} in rows[1]["ports"]
    ranged = parse("mirrored.docker_ps", json.dumps({"ID": "a", "Names": "x", "Ports": "127.0.0.1:8000-8002->80-82/tcp, 53/udp"}))
    assert [(p["host_ip"], p["host_port"], p["container_port"]) for p in ranged[0]["ports"][:3]] == [
        ("127.0.0.1", 8000, 80), ("127.0.0.1", 8001, 81), ("127.0.0.1", 8002, 82)]


def test_docker_ps_empty_and_failures():
    assert parse("mirrored.docker_ps", "") == []
    with pytest.raises(ParseError, match="rc 127: sh: docker: not found"):
        parse("mirrored.docker_ps", "", rc=127, stderr=b"sh: docker: not found\n")
    with pytest.raises(ParseError, match="line 2"):
        parse("mirrored.docker_ps", '{"ID":"a"}\nnot json\n')


@pytest.mark.parametrize("name, dd, version, kernel", [
    ("docker_version_dd.json", True, "4.85.0", "6.6.87.2-microsoft-standard-WSL2"),
    ("docker_version_native.json", False, None, "6.8.0-45-generic"),
])
def test_docker_version(name, dd, version, kernel):
    v = parse("mirrored.docker_version", sample(name))
    assert (v["is_docker_desktop"], v["desktop_version"], v["kernel"], v["server_reachable"]) == (dd, version, kernel, True)


def test_docker_version_server_unreachable_keeps_client():
    v = parse("mirrored.docker_version", sample("docker_version_unreachable.json"), rc=1)
    assert v["server_reachable"] is False and v["client_version"] == "27.3.1"


def test_docker_info():
    dd = parse("mirrored.docker_info", sample("docker_info_dd.json"))
    native = parse("mirrored.docker_info", sample("docker_info_native.json"))
    assert dd["is_docker_desktop"] and dd["labels"] == ["com.docker.desktop.address=npipe://\\\\.\\pipe\\docker_cli"]
    assert not native["is_docker_desktop"] and native["server_version"] == "27.3.1"


def test_docker_inspect():
    doc = [{"Id": "abc123", "Name": "/edge-node", "State": {"Running": True}, "HostConfig": {"NetworkMode": "host",
            "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8081"}]}}, "Config": {"Labels": {"auditor.edge": "true"}},
            "NetworkSettings": {"Networks": {"host": {"IPAddress": "", "Gateway": ""}}}}]
    c = parse("mirrored.docker_inspect", json.dumps(doc))[0]
    assert (c["name"], c["network_mode"], c["labels"], c["port_bindings"]) == (
        "edge-node", "host", {"auditor.edge": "true"}, [{"container": "80/tcp", "host_ip": "0.0.0.0", "host_port": 8081}])
    assert parse("mirrored.docker_inspect", "") == []


def test_docker_desktop_settings_both_casings():
    new = parse("mirrored.docker_settings", sample("settings-store.json"))
    old = parse("mirrored.docker_settings", sample("settings.json"))
    assert new["wsl_engine_enabled"] is True and new["vpnkit_cidr"] == "192.168.65.0/24" and new["host_networking_enabled"] is False
    assert old["wsl_engine_enabled"] is True and old["integrated_wsl_distros"] == ["Ubuntu-20.04"]


def test_docker_admin_settings_locked_values():
    a = parse("mirrored.docker_admin_settings", sample("admin-settings.json"))
    assert a["wsl_engine_enabled"] == {"value": False, "locked": True}
    assert a["vpnkit_cidr"] == {"value": "192.168.66.0/24", "locked": False}
    assert a["port_binding_behavior"]["value"] == "local-only-port-binding"
    assert a["locked_keys"] == ["linuxVM.wslEngineEnabled", "portBindingBehavior"]


# --- Windows JSON shapes -------------------------------------------------------------------------

def test_net_tcp_single_object_numeric_state():
    assert parse("mirrored.net_tcp", sample("net_tcp_single.json")) == [
        {"address": "0.0.0.0", "port": 8081, "pid": 11452, "process": "com.docker.backend", "state": "Listen"}]
    assert parse("mirrored.net_tcp", "", rc=1, stderr=b"Get-NetTCPConnection : No MSFT_NetTCPConnection objects found") == []


def test_windows_audit_ps51_shapes():
    a = parse("mirrored.windows_audit", sample("windows_audit_conflict.json"))
    assert a["os"]["build"] == 22631 and a["os"]["ubr"] == 4169
    assert a["wsl"]["services"] == [{"name": "WSLService", "status": "Running", "start_type": "Automatic"}]  # bare object, enums as numbers
    assert a["tcp_listen"][0]["state"] == "Listen"
    assert a["wsl_events"] == []
    assert a["wsl_version"]["values"]["wsl"] == "2.3.24.0"
    p = a["profiles"][0]
    assert p["variants"] == [".wslconfig"] and p["lxss_distros"][1] == {
        "id": "{22222222-2222-2222-2222-222222222222}", "name": "docker-desktop", "flags": 15, "version": 2,
        "base_path": "C:\\Users\\dev1\\AppData\\Local\\Docker\\wsl\\main"}
    assert p["docker_settings"][0]["settings"]["wsl_engine_enabled"] is True
    assert a["docker"]["ps"][0]["ports"][0]["host_port"] == 8081


def test_windows_audit_bad_embedded_payloads_do_not_fail_the_document():
    doc = json.loads(sample("windows_audit_conflict.json"))
    doc["profiles"][0]["DockerSettings"] = {"Name": "settings-store.json", "Base64": base64.b64encode(b"{not json").decode()}
    doc["docker"]["Ps"] = "garbage"
    doc["wslVersion"]["Base64"] = "!!!"
    a = parse("mirrored.windows_audit", json.dumps(doc))
    assert a["profiles"][0]["docker_settings"][0]["error"] and a["docker"]["parse_errors"]["ps"]
    assert a["wsl_version"]["error"]


def test_windows_audit_with_powershell_noise_before_json():
    a = parse("mirrored.windows_audit", b"WARNING: something\r\n" + sample("windows_audit_conflict.json"))
    assert a["host"] == "DEV-PC-01"


@pytest.mark.parametrize("data, message", [(b"", "printed nothing"), (b'{"schema":"other/1"}', "expected schema"), (b"[1]", "JSON object")])
def test_windows_audit_errors(data, message):
    with pytest.raises(ParseError, match=message):
        parse("mirrored.windows_audit", data)


# --- Linux ------------------------------------------------------------------------------------------

def test_ip_addr_and_loopback0():
    rows = parse("mirrored.ip_addr", sample("ip_addr_mirrored.json"))
    assert [r["ifname"] for r in rows] == ["lo", "eth1", "loopback0"]
    assert rows[1]["addrs"] == [{"family": "inet", "local": "192.168.0.200", "prefixlen": 24, "scope": "global"}]
    assert parse("mirrored.ip_addr", "[]\n") == []
    with pytest.raises(ParseError, match="busybox"):
        parse("mirrored.ip_addr", "1: lo: <LOOPBACK,UP> mtu 65536\n")


def test_ip_route():
    assert parse("mirrored.ip_route", sample("ip_route_dd_container.json"))[0] == {
        "dst": "default", "gateway": "192.168.65.1", "dev": "eth0", "prefsrc": None}


@pytest.mark.parametrize("text, available, mode", [
    ("mirrored", True, "mirrored"), ("nat\n", True, "nat"), ("consomme", True, "consomme"), ("virtioproxy", True, "virtioproxy"),
    ("wslinfo: not found\n", False, None), ("wslinfo: unrecognized option", True, None),
])
def test_wslinfo(text, available, mode):
    r = parse("mirrored.wslinfo", text)
    assert (r["available"], r["mode"]) == (available, mode)


def test_container_net_all_formats():
    text = (b"@@container aaa\n" + sample("ip_addr_dd_container.json") + b"@@route aaa\n" + sample("ip_route_dd_container.json")
            + b"@@container bbb\n" + sample("ip_o_addr.txt") + b"@@route bbb\n" + sample("proc_net_route.txt")
            + b"@@container ccc\n" + sample("fib_trie.txt") + b"@@route ccc\n")
    r = parse("mirrored.container_net", text)
    assert r["aaa"]["addr_format"] == "json" and r["aaa"]["routes"][0]["gateway"] == "192.168.65.1"
    assert r["bbb"]["addr_format"] == "oneline" and r["bbb"]["addrs"][1]["addrs"][0]["local"] == "192.168.65.3"
    assert r["bbb"]["route_format"] == "proc" and r["bbb"]["routes"][0] == {"dst": "default", "gateway": "192.168.65.1", "dev": "eth0", "prefsrc": None}
    assert r["bbb"]["routes"][1]["dst"] == "192.168.65.0/24"
    assert r["ccc"]["addr_format"] == "fib_trie" and [a["local"] for a in r["ccc"]["addrs"][0]["addrs"]] == ["127.0.0.1", "192.168.65.3"]
    assert r["ccc"]["route_format"] == "none"
