"""The benchmark's memory figure: PSS parsed from smaps_rollup and summed over a process tree (fake /proc)."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from bench.memory import parent_pid, parse_pss_kb, run_sampled, tree_pids, tree_pss_kb

ROLLUP = """559b1db96000-7ffe5fefb000 ---p 00000000 00:00 0                          [rollup]
Rss:                1632 kB
Pss:                 502 kB
Pss_Dirty:           112 kB
Pss_Anon:            112 kB
Shared_Clean:       1476 kB
"""


def test_parse_pss_reads_the_pss_line_not_its_breakdown():
    assert parse_pss_kb(ROLLUP) == 502
    assert parse_pss_kb("") is None  # a zombie's smaps_rollup is empty


def test_parent_pid_survives_a_command_name_with_spaces_and_parentheses():
    assert parent_pid("123 (python -m x) (y)) S 45 123 123 0 -1 4194560") == 45


def _proc(root: Path, pid: int, ppid: int, pss_kb: int | None) -> None:
    d = root / str(pid)
    d.mkdir()
    (d / "stat").write_text(f"{pid} (py thon) S {ppid} {pid} {pid} 0 -1\n")
    if pss_kb is not None:
        (d / "smaps_rollup").write_text(ROLLUP.replace("502", str(pss_kb)))


def test_tree_sums_the_process_and_all_descendants_only(tmp_path: Path):
    _proc(tmp_path, 1, 0, 5000)      # init: not part of the tree
    _proc(tmp_path, 100, 1, 60000)   # the audit
    _proc(tmp_path, 101, 100, 30000)  # a worker
    _proc(tmp_path, 102, 100, 25000)  # another worker
    _proc(tmp_path, 103, 102, 1000)   # a grandchild
    _proc(tmp_path, 104, 100, None)   # exited between the scan and the read: counts nothing
    _proc(tmp_path, 200, 1, 99999)    # an unrelated process
    (tmp_path / "self").mkdir()       # non-pid entries are skipped
    (tmp_path / "300").mkdir()        # a pid folder whose stat vanished
    assert tree_pids(100, tmp_path) == [100, 101, 102, 103, 104]
    assert tree_pss_kb(100, tmp_path) == 60000 + 30000 + 25000 + 1000
    assert tree_pss_kb(102, tmp_path) == 26000


# A parent that fills 48 MiB, forks a child that shares them and fills 32 MiB of its own, and then
# both wait: the child on a FIFO. Opening the FIFO for writing without blocking succeeds only once the
# child reads it, i.e. once all the memory is resident; closing it lets the child, then the parent, end.
TREE = """
import os, sys
def fill(mib):
    buf = bytearray(mib << 20)
    for i in range(0, len(buf), 4096):
        buf[i] = 1
    return buf
shared = fill(48)
pid = os.fork()
if pid == 0:
    own = fill(32)
    with open(sys.argv[1]) as fifo:
        fifo.read()
    os._exit(0)
os.waitpid(pid, 0)
print("done")
"""


def test_run_sampled_counts_the_tree_once_shared_pages_split(tmp_path: Path):
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    seen: list[int] = []

    def measure(pid: int) -> int:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:  # ENXIO: the child is not waiting yet
            assert exc.errno == errno.ENXIO
            return tree_pss_kb(pid)
        try:
            seen.append(tree_pss_kb(pid))
            return seen[-1]
        finally:
            os.close(fd)  # the child reads EOF and exits

    result = run_sampled([sys.executable, "-c", TREE, str(fifo)], tmp_path, tmp_path / "out.log", measure=measure)
    assert result.returncode == 0 and result.output == "done\n"
    assert len(seen) == 1 and result.peak_pss_kb >= seen[0]
    # 48 + 32 MiB are resident; the 48 both processes map count once (the RSS sum would be >= 128 MiB)
    assert 80 * 1024 <= seen[0] < 110 * 1024, seen
