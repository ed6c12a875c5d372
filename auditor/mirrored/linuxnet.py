"""Linux network facts: ``ip -j addr/link/route``, their text fallbacks, ``wslinfo``, per-container blocks."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from auditor.mirrored.shapes import as_dict, as_list, first_json_value, guarded, load_json, to_int, to_str
from auditor.parsers.registry import CollectorOutput, ParseError, register_parser

WSL_MODES = ("nat", "mirrored", "virtioproxy", "consomme", "none", "wsl1", "bridged")
_ONELINE = re.compile(r"^\d+:\s+(?P<ifname>[^\s:@]+)\S*\s+(?P<family>inet6?)\s+(?P<addr>[0-9A-Fa-f.:]+)/(?P<plen>\d+)(?P<rest>.*)$")
_CONTAINER_MARK = re.compile(r"^@@(container|route) ([0-9A-Za-z_.-]{1,128})\s*$")


def iface_rows(doc: Any) -> list[dict[str, Any]]:
    """iproute2 JSON (addr or link) -> [{ifname, flags, operstate, addrs[{family, local, prefixlen, scope}]}]."""
    rows = []
    for item in as_list(doc):
        if not isinstance(item, dict):
            continue
        addrs = []
        for a in as_list(item.get("addr_info")):
            a = as_dict(a)
            if to_str(a.get("local")):
                addrs.append({"family": to_str(a.get("family")), "local": to_str(a.get("local")),
                              "prefixlen": to_int(a.get("prefixlen")), "scope": to_str(a.get("scope"))})
        rows.append({"ifname": to_str(item.get("ifname")) or "", "flags": [str(f) for f in as_list(item.get("flags"))],
                     "operstate": to_str(item.get("operstate")), "addrs": addrs})
    return rows


def oneline_rows(text: str) -> list[dict[str, Any]]:
    """``ip -o addr show`` lines -> the same shape as iface_rows."""
    by_if: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        m = _ONELINE.match(line.strip())
        if not m:
            continue
        scope = re.search(r"scope (\S+)", m.group("rest"))
        row = by_if.setdefault(m.group("ifname"), {"ifname": m.group("ifname"), "flags": [], "operstate": None, "addrs": []})
        row["addrs"].append({"family": m.group("family"), "local": m.group("addr"), "prefixlen": int(m.group("plen")),
                             "scope": scope.group(1) if scope else None})
    return list(by_if.values())


def fib_trie_rows(text: str) -> list[dict[str, Any]]:
    """``/proc/net/fib_trie``: an address followed by '/32 host LOCAL' is a local address (no interface names)."""
    seen: list[str] = []
    last: str | None = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|--"):
            last = s[3:].strip()
        elif last and re.match(r"^/32 host LOCAL", s):
            if last not in seen:
                seen.append(last)
            last = None
    addrs = [{"family": "inet", "local": a, "prefixlen": None, "scope": "host" if a.startswith("127.") else "global"} for a in seen]
    return [{"ifname": "?", "flags": [], "operstate": None, "addrs": addrs}] if addrs else []


def route_rows(doc: Any) -> list[dict[str, Any]]:
    rows = []
    for r in as_list(doc):
        if isinstance(r, dict):
            rows.append({"dst": to_str(r.get("dst")), "gateway": to_str(r.get("gateway")), "dev": to_str(r.get("dev")),
                         "prefsrc": to_str(r.get("prefsrc"))})
    return rows


def _hex_ip(h: str) -> str:
    return str(ipaddress.IPv4Address(int(h, 16).to_bytes(4, "little")))


def proc_route_rows(text: str) -> list[dict[str, Any]]:
    """``/proc/net/route`` (little-endian hex) -> route rows."""
    rows = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 8 or not all(re.fullmatch(r"[0-9A-Fa-f]{8}", x) for x in (f[1], f[2], f[7])):
            continue
        dst, gw, mask = _hex_ip(f[1]), _hex_ip(f[2]), _hex_ip(f[7])
        plen = ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen if dst else 0
        rows.append({"dst": "default" if dst == "0.0.0.0" and plen == 0 else f"{dst}/{plen}",
                     "gateway": None if gw == "0.0.0.0" else gw, "dev": f[0], "prefsrc": None})
    return rows


def ipv4_addrs(ifaces: Any, include_loopback: bool = False) -> list[str]:
    """Non-loopback IPv4 addresses of interface rows (``include_loopback`` keeps 127/8 and lo)."""
    out = []
    for row in as_list(ifaces):
        for a in as_list(as_dict(row).get("addrs")):
            a = as_dict(a)
            if a.get("family") != "inet" or not a.get("local"):
                continue
            if not include_loopback and (str(a["local"]).startswith("127.") or a.get("scope") == "host"):
                continue
            if a["local"] not in out:
                out.append(a["local"])
    return out


def default_gateway(routes: Any) -> str | None:
    for r in as_list(routes):
        r = as_dict(r)
        if r.get("dst") in ("default", "0.0.0.0/0") and r.get("gateway"):
            return str(r["gateway"])
    return None


def in_subnet(addr: Any, cidr: Any) -> bool:
    try:
        return ipaddress.ip_address(str(addr)) in ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return False


def _json_or_text(text: str, what: str) -> Any:
    stripped = text.strip()
    if not stripped:
        return []
    if stripped[0] not in "[{":
        raise ParseError(f"expected iproute2 JSON ({what}), got {stripped[:60]!r} (iproute2 < 4.14 or busybox ip?)")
    return load_json(first_json_value(stripped), f"iproute2 JSON ({what})")


@register_parser("mirrored.ip_addr")
@guarded
def parse_ip_addr(out: CollectorOutput) -> list[dict[str, Any]]:
    return iface_rows(_json_or_text(out.text(), "ip -j addr/link"))


@register_parser("mirrored.ip_route")
@guarded
def parse_ip_route(out: CollectorOutput) -> list[dict[str, Any]]:
    return route_rows(_json_or_text(out.text(), "ip -j route"))


def wslinfo_text(text: str) -> dict[str, Any]:
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if first.lower().startswith("wslinfo: not found") or not first:
        return {"available": False, "mode": None, "raw": first}
    mode = first.lower()
    return {"available": True, "mode": mode if mode in WSL_MODES else None, "raw": first[:200]}


@register_parser("mirrored.wslinfo")
@guarded
def parse_wslinfo(out: CollectorOutput) -> dict[str, Any]:
    return wslinfo_text(out.text())


def _block(text: str, from_json: Any, fallbacks: list[tuple[str, Any, Any]]) -> tuple[list[dict[str, Any]], str]:
    """A container's block: iproute2 JSON if it looks like JSON, else the first matching text fallback."""
    s = text.strip()
    if not s:
        return [], "none"
    if s[0] in "[{":
        try:
            return from_json(load_json(s, "iproute2 JSON")), "json"
        except ParseError:
            return [], "invalid"
    for name, matches, parse in fallbacks:
        if matches(s):
            return parse(s), name
    return [], "unknown"


def _addr_block(text: str) -> tuple[list[dict[str, Any]], str]:
    return _block(text, iface_rows, [("fib_trie", lambda s: "|--" in s, fib_trie_rows), ("oneline", lambda s: True, oneline_rows)])


def _route_block(text: str) -> tuple[list[dict[str, Any]], str]:
    return _block(text, route_rows, [("proc", lambda s: True, proc_route_rows)])


def container_net_text(text: str) -> dict[str, dict[str, Any]]:
    """Blocks '@@container <id>' / '@@route <id>' -> {id: {addrs, routes, addr_format, route_format}}."""
    blocks: dict[tuple[str, str], list[str]] = {}
    order: list[str] = []
    current: tuple[str, str] | None = None
    for line in text.splitlines():
        m = _CONTAINER_MARK.match(line)
        if m:
            current = (m.group(1), m.group(2))
            blocks.setdefault(current, [])
            if m.group(2) not in order:
                order.append(m.group(2))
        elif current:
            blocks[current].append(line)
    result = {}
    for cid in order:
        addrs, af = _addr_block("\n".join(blocks.get(("container", cid), [])))
        routes, rf = _route_block("\n".join(blocks.get(("route", cid), [])))
        result[cid] = {"addrs": addrs, "routes": routes, "addr_format": af, "route_format": rf}
    return result


@register_parser("mirrored.container_net")
@guarded
def parse_container_net(out: CollectorOutput) -> dict[str, dict[str, Any]]:
    return container_net_text(out.text())
