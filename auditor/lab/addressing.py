"""Where each simulated host listens, and how many processes a fleet needs to be served.

Addresses: 127.0.0.0/8 is all loopback on Linux. Windows hosts take 127.1.0.1 onwards (second octet
1-63), edge nodes 127.64.0.1 onwards (second octet 64-127): two disjoint blocks of 4,096,512
addresses each (.1-.254 of every /24), so the two kinds never share an address at any fleet size,
and neither touches 127.0.x.x (127.0.0.1 and the test suites' own small fleets).

Processes: every host holds one listening socket, and every connection to it one more file
descriptor, all counted against the serving process's ``RLIMIT_NOFILE``. A fleet larger than one
process may hold is served by several (``auditor/lab/spread.py``); ``plan_processes`` says how
many, or why the machine cannot serve that many hosts.
"""

from __future__ import annotations

import math
import resource
from dataclasses import dataclass
from pathlib import Path

#: (first, last) second octet of each kind's block
BLOCKS = {"windows": (1, 63), "edge": (64, 127)}
HOSTS_PER_24 = 254  # .1 - .254
#: Most processes one fleet is spread over (each imports the lab: ~60 MB)
MAX_PROCESSES = 64


class CapacityError(Exception):
    """The machine cannot serve the fleet; the message names the limit."""


def block_capacity(platform: str) -> int:
    first, last = BLOCKS[platform]
    return (last - first + 1) * 256 * HOSTS_PER_24


def fleet_address(platform: str, index: int) -> str:
    """The address of the ``index``-th (1-based) host of ``platform`` (``windows`` or ``edge``)."""
    first, _ = BLOCKS[platform]
    if not 1 <= index <= block_capacity(platform):
        raise CapacityError(f"no loopback address left for {platform} host {index:,} "
                            f"(the lab's {platform} block holds {block_capacity(platform):,})")
    n, host = divmod(index - 1, HOSTS_PER_24)
    second, third = divmod(n, 256)
    return f"127.{first + second}.{third}.{host + 1}"


def assign_addresses(platforms: list[str]) -> list[str]:
    """One address per host, in order: the N-th Windows host and the N-th edge node of the list get
    the N-th address of their kind's block (``platform`` other than windows counts as edge)."""
    counts = {"windows": 0, "edge": 0}
    out = []
    for p in platforms:
        kind = "windows" if p == "windows" else "edge"
        counts[kind] += 1
        out.append(fleet_address(kind, counts[kind]))
    return out


# --- how many processes -----------------------------------------------------------------------

#: descriptors a serving process needs besides its listening sockets: the interpreter, its event
#: loop and thread pool, the client connections of an audit in flight (forks, ansible's persistent
#: SSH connections)
RESERVE_MAX = 2048
RESERVE_MIN = 64


@dataclass(frozen=True)
class ProcessPlan:
    processes: int
    hosts_per_process: int
    nofile_limit: int       # the per-process open-file limit the plan is made for
    reserve: int            # descriptors kept free per process for connections


def reserve_for(limit: int) -> int:
    """Descriptors to keep free per process: a quarter of the limit, between 64 and 2,048."""
    return max(RESERVE_MIN, min(RESERVE_MAX, limit // 4))


def plan_processes(hosts: int, nofile_limit: int, system_free_files: int | None = None,
                   processes: int = 0) -> ProcessPlan:
    """How many processes serve ``hosts`` under a per-process ``nofile_limit`` (``processes`` > 0
    asks for that many). Raises ``CapacityError`` naming the limit that does not allow it."""
    reserve = reserve_for(nofile_limit)
    per_process = nofile_limit - reserve
    if per_process < 1:
        raise CapacityError(f"the open-file limit is {nofile_limit} per process (RLIMIT_NOFILE): too low to serve "
                            f"any lab host (raise it with `ulimit -n`)")
    need = math.ceil(hosts / per_process)
    if processes and processes < need:
        raise CapacityError(f"{hosts:,} hosts do not fit in {processes} process(es): each may open {nofile_limit:,} "
                            f"files (RLIMIT_NOFILE) and keeps {reserve:,} for connections; at least {need} are "
                            f"needed (or raise the limit with `ulimit -n`)")
    count = max(processes, need, 1)
    if count > MAX_PROCESSES:
        raise CapacityError(f"cannot serve {hosts:,} hosts: the open-file limit is {nofile_limit:,} per process "
                            f"(RLIMIT_NOFILE), so it would take {count} processes (at most {MAX_PROCESSES}); raise "
                            f"the limit (`ulimit -n`, or the hard limit in /etc/security/limits.conf) or serve fewer hosts")
    if system_free_files is not None and hosts + count * reserve > system_free_files:
        raise CapacityError(f"cannot serve {hosts:,} hosts: the system may open only {system_free_files:,} more "
                            f"files (fs.file-max less those in use); they need {hosts + count * reserve:,}")
    return ProcessPlan(count, math.ceil(hosts / count) if hosts else 0, nofile_limit, reserve)


def nofile_limit() -> int:
    """This process's open-file limit after lifting the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # not allowed here: the soft limit is what we have
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def system_free_files(proc: Path = Path("/proc/sys/fs")) -> int | None:
    """Files the whole system may still open (Linux ``fs.file-max`` less ``fs.file-nr``); None elsewhere."""
    try:
        allocated = int((proc / "file-nr").read_text().split()[0])
        return int((proc / "file-max").read_text().split()[0]) - allocated
    except (OSError, ValueError, IndexError):
        return None
