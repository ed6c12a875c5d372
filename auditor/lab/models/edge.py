"""A simulated Linux edge node (served over SSH by ``auditor.lab.sshd``).

It answers the edge playbook's collector commands (recognised by their exact text,
``recognize.edge_collector``) with the output real tools print: ``ip -j`` JSON, docker's
``{{json .}}`` (``>`` as ``\\u003e``) and indented ``docker inspect``, ``/etc/os-release``. Anything
else gets ``sh: 1: <cmd>: not found`` (rc 127) from the base model.

State (``EdgeState``, plain mutable attributes):

* ``engine``: ``docker-ce`` (native Engine), ``docker-desktop`` (Docker Desktop, its VM on
  192.168.65.0/24), ``none`` (no docker CLI) or ``stopped`` (CLI present, daemon down).
* ``wsl``: None on a real Linux host, else the WSL networking mode of the distro (``nat``/``mirrored``);
  the kernel then is ``...-microsoft-standard-WSL2`` and ``wslinfo`` exists.
* ``lan_ifname`` / ``lan_address`` (CIDR) / ``lan_gateway``: the host's LAN identity (under WSL NAT the
  host sees 172.30.x instead, under WSL mirrored it sees the Windows LAN address and ``loopback0``).
* ``containers``: ``EdgeContainer`` (name, labels, ``network_mode`` host | bridge | ``macvlan``,
  ``ip_tool`` iproute2 | busybox | none: which fallback of container_net works inside it).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from auditor.lab.models import dockerjson as dj
from auditor.lab.models.recognize import edge_collector
from auditor.lab.models.remediation import apply_remediation, is_remediation
from auditor.lab.models.windows_state import LAB_EPOCH
from auditor.lab.sshd import CommandOutcome, LinuxHostModel

BRIDGE_ADDR = ("172.17.0.2", 16, "172.17.0.1")
WSL_NAT_ADDR = ("172.30.98.229", 20, "172.30.96.1")
NO_DAEMON = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"

OS_RELEASES = {
    "ubuntu-24.04": ('PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION="24.04.1 LTS (Noble Numbat)"\n'
                     'VERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\nHOME_URL="https://www.ubuntu.com/"\n'
                     'UBUNTU_CODENAME=noble\n'),
    "debian-12": ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
                  'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL="https://www.debian.org/"\n'),
    "fedora-40": ('NAME="Fedora Linux"\nVERSION="40 (Server Edition)"\nID=fedora\nVERSION_ID=40\n'
                  'PRETTY_NAME="Fedora Linux 40 (Server Edition)"\nVARIANT_ID=server\n'),
}


@dataclass
class EdgeContainer:
    name: str
    image: str = "ghcr.io/example/edge-node:1.8"
    network_mode: str = "host"
    labels: dict[str, str] = field(default_factory=dict)
    ports: list[tuple[str, int, int, str]] = field(default_factory=list)
    ip_tool: str = "iproute2"          # iproute2 (ip -j) | busybox (ip -o) | none (/proc only)
    running: bool = True


@dataclass
class EdgeState:
    hostname: str = "edge-0001"
    os: str = "ubuntu-24.04"
    kernel: str = "6.8.0-45-generic"
    engine: str = "docker-ce"          # docker-ce | docker-desktop | none | stopped
    engine_version: str = "27.3.1"
    desktop_version: str = "4.45.0"
    wsl: str | None = None             # None | nat | mirrored
    lan_ifname: str = "enp3s0"
    lan_address: str = "192.168.10.41/24"
    lan_gateway: str = "192.168.10.1"
    containers: list[EdgeContainer] = field(default_factory=list)
    rootless: bool = False             # rootless Docker Engine: host mode is RootlessKit's namespace (slirp4netns)
    dd_subnet: str = "192.168.65.0/24"  # Docker Desktop's VpnkitCIDR (settings-store.json)


class EdgeHostModel(LinuxHostModel):
    def __init__(self, state: EdgeState):
        kernel = state.kernel
        if state.wsl is not None and "microsoft-standard-WSL2" not in kernel:
            kernel = "6.6.87.2-microsoft-standard-WSL2"
        super().__init__(hostname=state.hostname, kernel=kernel, os_release=OS_RELEASES.get(state.os, OS_RELEASES["debian-12"]))
        self.state = state

    def run_collector(self, name: str, command: str) -> CommandOutcome:
        if is_remediation(command):  # `auditor remediate` steps (auditor/lab/models/remediation.py)
            return apply_remediation(self, command)
        kind = edge_collector(command)
        handler = getattr(self, f"_c_{kind}", None) if kind else None
        if handler is None:
            return self.run_command(command)
        return handler()

    def run_command(self, command: str) -> CommandOutcome:
        kind = edge_collector(command)
        if kind and kind not in ("uname", "os_release"):
            return self.run_collector(kind, command)
        return super().run_command(command)

    # --- helpers ------------------------------------------------------------------------------

    def _docker(self) -> CommandOutcome | None:
        """The failure every docker command shows on this host, or None when docker answers."""
        if self.state.engine == "none":
            return CommandOutcome(stderr=b"sh: 1: docker: not found\n", rc=127)
        if self.state.engine == "stopped":
            return CommandOutcome(stderr=NO_DAEMON.encode(), rc=1)
        return None

    @property
    def desktop(self) -> bool:
        return self.state.engine == "docker-desktop"

    def _server_kernel(self) -> str:
        if self.desktop:
            return "6.6.87.2-microsoft-standard-WSL2" if self.state.wsl else "6.10.14-linuxkit"
        return self.kernel

    def _running(self) -> list[EdgeContainer]:
        return [c for c in self.state.containers if c.running]

    def _cid(self, c: EdgeContainer) -> str:
        return dj.container_id(self.state.hostname, c.name)

    def _rows(self) -> list[dj.PsRow]:
        rows = []
        for i, c in enumerate(self._running()):
            ip, _, gw = BRIDGE_ADDR if c.network_mode not in ("host",) else ("", 0, "")
            ip = f"172.17.0.{i + 2}" if ip else ""
            rows.append(dj.PsRow(self._cid(c), c.name, c.image, LAB_EPOCH - timedelta(days=2, hours=i), LAB_EPOCH,
                                 c.ports, c.labels, c.network_mode, command="\"/usr/local/bin/edge-node --config /etc/edge.yml\"",
                                 ip=ip, gateway=gw))
        return rows

    def host_ifaces(self) -> list[dict[str, Any]]:
        """What ``ip -j addr show`` prints on the host (or in a host-network container of a native engine)."""
        s = self.state
        lo = _iface(1, "lo", ["LOOPBACK", "UP", "LOWER_UP"], "UNKNOWN", "00:00:00:00:00:00",
                    [_addr("127.0.0.1", 8, "host", "lo")], link_type="loopback", mtu=65536)
        if s.wsl == "nat":
            ip, plen, _ = WSL_NAT_ADDR
            return [lo, _iface(2, "eth0", ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "UP", "00:15:5d:4e:2a:91",
                               [_addr(ip, plen, "global", "eth0")])]
        ip, plen = s.lan_address.split("/")
        ifaces = [lo]
        if s.wsl == "mirrored":
            lo["addr_info"].append(_addr("10.255.255.254", 32, "global", "lo"))
            ifaces.append(_iface(2, "eth0", ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "UP", "00:15:5d:aa:bb:cc",
                                 [_addr(ip, int(plen), "global", "eth0")]))
            ifaces.append(_iface(3, "loopback0", ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "UP", "00:15:5d:3c:6a:11", []))
        else:
            ifaces.append(_iface(2, s.lan_ifname, ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "UP", "3c:ec:ef:12:34:56",
                                 [_addr(ip, int(plen), "global", s.lan_ifname, dynamic=True)]))
        if s.engine == "docker-ce" and any(c.network_mode != "host" for c in self._running()):
            ifaces.append(_iface(len(ifaces) + 1, "docker0", ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "UP",
                                 "02:42:5b:1c:7e:01", [_addr("172.17.0.1", 16, "global", "docker0")]))
        return ifaces

    def host_routes(self) -> list[dict[str, Any]]:
        s = self.state
        if s.wsl == "nat":
            ip, plen, gw = WSL_NAT_ADDR
            return _routes("eth0", ip, plen, gw)
        ip, plen = s.lan_address.split("/")
        return _routes("eth0" if s.wsl == "mirrored" else s.lan_ifname, ip, int(plen), s.lan_gateway)

    def container_view(self, c: EdgeContainer, index: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(interfaces, routes) as seen from inside the container."""
        if c.network_mode == "host" and not self.desktop and not self.state.rootless:
            return self.host_ifaces(), self.host_routes()
        if c.network_mode == "host" and self.state.rootless and not self.desktop:  # RootlessKit's slirp4netns namespace
            ip, plen, gw = "10.0.2.100", 24, "10.0.2.2"
        elif c.network_mode == "host":  # Docker Desktop: its VM's namespace, never the host's LAN
            net = ipaddress.ip_network(self.state.dd_subnet, strict=False)
            ip, plen, gw = str(net.network_address + 3), net.prefixlen, str(net.network_address + 1)
        elif c.network_mode.startswith("macvlan") and not self.desktop:
            net = ipaddress.ip_interface(self.state.lan_address).network
            ip, plen, gw = str(net.network_address + 200 + index), net.prefixlen, self.state.lan_gateway
        else:
            ip, plen, gw = f"172.17.0.{index + 2}", 16, "172.17.0.1"
        lo = _iface(1, "lo", ["LOOPBACK", "UP", "LOWER_UP"], "UNKNOWN", "00:00:00:00:00:00",
                    [_addr("127.0.0.1", 8, "host", "lo")], link_type="loopback", mtu=65536)
        eth = _iface(2, "eth0", ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "UP", "02:42:ac:11:00:02",
                     [_addr(ip, plen, "global", "eth0")])
        return [lo, eth], _routes("eth0", ip, plen, gw, kernel_only=True)

    # --- collectors -----------------------------------------------------------------------------

    def _c_uname(self) -> CommandOutcome:
        return CommandOutcome(f"{self.kernel}\n".encode())

    def _c_os_release(self) -> CommandOutcome:
        return CommandOutcome(self.os_release.encode())

    def _c_docker_context(self) -> CommandOutcome:
        if self.state.engine == "none":
            return self._docker()  # type: ignore[return-value]
        return CommandOutcome(b"desktop-linux\n" if self.desktop else b"default\n")

    def _c_docker_version(self) -> CommandOutcome:
        if self.state.engine == "none":
            return self._docker()  # type: ignore[return-value]
        ctx = "desktop-linux" if self.desktop else "default"
        doc = dj.version_doc(self.state.engine_version, None, ctx, "linux")
        if self.state.engine == "stopped":
            return CommandOutcome((dj.go_json(doc) + "\n").encode(), NO_DAEMON.encode(), 1)
        platform = (f"Docker Desktop {self.state.desktop_version} (203075)" if self.desktop else "Docker Engine - Community")
        doc["Server"] = dj.server_doc(platform, self.state.engine_version, self._server_kernel())
        return CommandOutcome((dj.go_json(doc) + "\n").encode())

    def _c_docker_info(self) -> CommandOutcome:
        fail = self._docker()
        if fail is not None:
            return fail
        if self.desktop:
            doc = dj.info_doc("docker-desktop", "Docker Desktop", self._server_kernel(), self.state.engine_version,
                              len(self._running()), ["com.docker.desktop.address=unix:///home/edge/.docker/desktop/docker-cli.sock"])
        else:
            pretty = next((ln.split("=", 1)[1].strip('"') for ln in self.os_release.splitlines()
                           if ln.startswith("PRETTY_NAME=")), "Linux")
            doc = dj.info_doc(self.state.hostname, pretty, self.kernel, self.state.engine_version, len(self._running()), [])
        doc["SecurityOptions"] = ["name=seccomp,profile=builtin", *(["name=rootless"] if self.state.rootless else []), "name=cgroupns"]
        return CommandOutcome((dj.go_json(doc) + "\n").encode())

    def _c_dd_settings(self) -> CommandOutcome:
        """~/.docker/desktop/settings-store.json of Docker Desktop for Linux; '{}' when there is none."""
        if not self.desktop:
            return CommandOutcome(b"{}\n")
        doc = {"AutoStart": False, "HostNetworkingEnabled": False, "SettingsVersion": 40, "VpnkitCIDR": self.state.dd_subnet}
        return CommandOutcome((json.dumps(doc, indent=2) + "\n").encode())

    def _c_docker_ps(self) -> CommandOutcome:
        fail = self._docker()
        if fail is not None:
            return fail
        return CommandOutcome("".join(dj.ps_line(r) + "\n" for r in self._rows()).encode())

    def _c_docker_inspect(self) -> CommandOutcome:
        fail = self._docker()
        if fail is not None:  # `docker ps` fails, xargs -r runs nothing: rc 0, error on stderr
            return CommandOutcome(stderr=fail.stderr, rc=0)
        rows = self._rows()
        return CommandOutcome(dj.inspect_text(rows).encode() if rows else b"")

    def _c_host_addr(self) -> CommandOutcome:
        return CommandOutcome((dj.go_json(self.host_ifaces()) + "\n").encode())

    def _c_host_route(self) -> CommandOutcome:
        return CommandOutcome((dj.go_json(self.host_routes()) + "\n").encode())

    def _c_loopback0(self) -> CommandOutcome:
        lo0 = [i for i in self.host_ifaces() if i["ifname"] == "loopback0"]
        for i in lo0:
            i.pop("addr_info", None)
        return CommandOutcome((dj.go_json(lo0) + "\n").encode() if lo0 else b"[]\n")

    def _c_wslinfo(self) -> CommandOutcome:
        if self.state.wsl is None:
            return CommandOutcome(b"wslinfo: not found\n")
        return CommandOutcome(f"{self.state.wsl}\n".encode())

    def _c_container_net(self) -> CommandOutcome:
        fail = self._docker()
        if fail is not None:
            return CommandOutcome(stderr=fail.stderr, rc=0)
        out = []
        for i, c in enumerate(self._running()[:32]):
            ifaces, routes = self.container_view(c, i)
            out.append(f"@@container {self._cid(c)}\n")
            if c.ip_tool == "iproute2":
                out.append(dj.go_json(ifaces) + "\n")
            elif c.ip_tool == "busybox":
                out.append(_oneline(ifaces))
            else:
                out.append(_fib_trie(ifaces))
            out.append(f"@@route {self._cid(c)}\n")
            out.append(dj.go_json(routes) + "\n" if c.ip_tool == "iproute2" else _proc_route(routes))
        return CommandOutcome("".join(out).encode())


# --- real tool formats ----------------------------------------------------------------------------


def _addr(ip: str, plen: int, scope: str, label: str, dynamic: bool = False) -> dict[str, Any]:
    a: dict[str, Any] = {"family": "inet", "local": ip, "prefixlen": plen}
    if scope == "global" and plen < 32:
        a["broadcast"] = str(ipaddress.ip_interface(f"{ip}/{plen}").network.broadcast_address)
    a["scope"] = scope
    if dynamic:
        a["dynamic"] = True
    a.update({"label": label, "valid_life_time": 86012 if dynamic else 4294967295,
              "preferred_life_time": 86012 if dynamic else 4294967295})
    return a


def _iface(index: int, name: str, flags: list[str], state: str, mac: str, addrs: list[dict[str, Any]],
           link_type: str = "ether", mtu: int = 1500) -> dict[str, Any]:
    d: dict[str, Any] = {"ifindex": index, "ifname": name, "flags": flags, "mtu": mtu,
                         "qdisc": "noqueue" if link_type == "loopback" else "mq", "operstate": state, "group": "default",
                         "txqlen": 1000, "link_type": link_type, "address": mac,
                         "broadcast": "00:00:00:00:00:00" if link_type == "loopback" else "ff:ff:ff:ff:ff:ff",
                         "addr_info": addrs}
    return d


def _routes(dev: str, ip: str, plen: int, gw: str, kernel_only: bool = False) -> list[dict[str, Any]]:
    net = str(ipaddress.ip_interface(f"{ip}/{plen}").network)
    default: dict[str, Any] = {"dst": "default", "gateway": gw, "dev": dev}
    link: dict[str, Any] = {"dst": net, "dev": dev, "protocol": "kernel", "scope": "link", "prefsrc": ip}
    if not kernel_only:
        default.update({"protocol": "dhcp", "prefsrc": ip, "metric": 100})
        link["metric"] = 100
    default["flags"], link["flags"] = [], []
    return [default, link]


def _oneline(ifaces: list[dict[str, Any]]) -> str:
    """busybox/iproute2 ``ip -o addr show``."""
    lines = []
    for i in ifaces:
        for a in i["addr_info"]:
            brd = f" brd {a['broadcast']}" if "broadcast" in a else ""
            lines.append(f"{i['ifindex']}: {i['ifname']}    inet {a['local']}/{a['prefixlen']}{brd} scope {a['scope']} "
                         f"{i['ifname']}\\       valid_lft forever preferred_lft forever")
    return "\n".join(lines) + "\n"


def _fib_trie(ifaces: list[dict[str, Any]]) -> str:
    """A small but well-formed ``/proc/net/fib_trie`` (local table: the /32 host entries)."""
    lines = ["Main:", "  +-- 0.0.0.0/0 3 0 5"]
    local = ["Local:", "  +-- 0.0.0.0/0 3 0 5"]
    for i in ifaces:
        for a in i["addr_info"]:
            net = ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}").network
            lines += [f"     |-- {net.network_address}", f"        /{net.prefixlen} link UNICAST"]
            local += [f"     |-- {a['local']}", "        /32 host LOCAL"]
    return "\n".join(lines + local) + "\n"


def _proc_route(routes: list[dict[str, Any]]) -> str:
    """``/proc/net/route`` (little-endian hex addresses)."""
    def hx(ip: str) -> str:
        return ipaddress.IPv4Address(ip).packed[::-1].hex().upper()

    out = ["Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"]
    for r in routes:
        if r["dst"] == "default":
            out.append(f"{r['dev']}\t00000000\t{hx(r['gateway'])}\t0003\t0\t0\t0\t00000000\t0\t0\t0")
        else:
            net = ipaddress.ip_network(r["dst"])
            out.append(f"{r['dev']}\t{hx(str(net.network_address))}\t00000000\t0001\t0\t0\t0\t{hx(str(net.netmask))}\t0\t0\t0")
    return "\n".join(out) + "\n"
