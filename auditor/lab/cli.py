"""`auditor lab serve` and `auditor demo`: the simulated fleet as the embedded default (docs/lab.md)."""

from __future__ import annotations

import asyncio
import importlib.resources
import os
import signal
import tempfile
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from auditor.commands import options as opt
from auditor.errors import ExitCode, UsageError

PLAYBOOKS = Path(str(importlib.resources.files("auditor") / "playbooks"))  # shipped in the package (top-level playbooks/ links here)
FAULT_KINDS = ("wrong-password", "refused", "slow", "hang", "reset", "skew", "unknown-spn")  # the last two: --kerberos

lab_app = typer.Typer(help="The simulated fleet: Windows hosts over WinRS and edge nodes over SSH, on loopback.",
                      no_args_is_help=True)


def parse_faults(values: list[str]) -> dict[str, dict[str, Any]]:
    """``HOST=KIND[,KIND...]`` with KIND one of wrong-password, refused, slow[:SECONDS], hang, reset,
    skew[:SECONDS] (the host's clock is off; default 900) and unknown-spn (the KDC has no HTTP/<host>)."""
    out: dict[str, dict[str, Any]] = {}
    for value in values:
        host, sep, kinds = value.partition("=")
        if not sep or not host or not kinds:
            raise UsageError(f"--fault {value!r}: expected HOST=KIND[,KIND] (kinds: {', '.join(FAULT_KINDS)})")
        f = out.setdefault(host.strip(), {})
        for kind in kinds.split(","):
            name, _, arg = kind.strip().partition(":")
            if name not in FAULT_KINDS:
                raise UsageError(f"--fault {value!r}: unknown fault {name!r} (expected one of {', '.join(FAULT_KINDS)})")
            if name in ("slow", "skew"):
                try:
                    f[name] = float(arg or (2.0 if name == "slow" else 900.0))
                except ValueError:
                    raise UsageError(f"--fault {value!r}: {name} takes seconds, e.g. {name}:1.5") from None
            else:
                f[name.replace("-", "_")] = True
    return out


def build_members(scenario_files: list[Path], hosts: Optional[int], seed: int, *, cover: bool = True):
    from auditor.lab.spread import FleetSpec  # the shard processes of a spread fleet build theirs the same way

    return FleetSpec([str(p) for p in scenario_files], hosts, seed, cover=cover).members()


@lab_app.command("serve")
def serve_command(
    scenarios: list[Path] = typer.Argument(None, help="Scenario files (default: the shipped library).", metavar="[SCENARIO.yml]..."),
    hosts: Optional[int] = typer.Option(None, "--hosts", min=1, max=1_000_000, help="Fleet size, sampled from the scenarios by weight (default: one host per scenario)."),
    seed: int = typer.Option(1, "--seed", help="Seed of the fleet generator: same seed, same fleet."),
    inventory_out: Path = typer.Option(Path(".lab/lab.yml"), "--inventory-out", help="Where to write the inventory (a .known_hosts file is written beside it); the default is outside the tracked files."),
    ports: str = typer.Option("standard", "--ports", help="standard (5985 / 22 on each host's own address) or free (any free port)."),
    fault: list[str] = typer.Option([], "--fault", help="HOST=KIND[,KIND]: wrong-password, refused, slow[:SECONDS], hang, reset; with --kerberos also skew[:SECONDS], unknown-spn (repeatable)."),
    kerberos: bool = typer.Option(False, "--kerberos", help="Windows hosts accept Kerberos only, from a throw-away MIT KDC on loopback (needs krb5-kdc); writes <inventory>.krb5.conf."),
    processes: int = typer.Option(0, "--processes", min=0, max=64, help="Processes serving the fleet; 0 = as many as the open-file limit needs."),
) -> int:
    """Run a simulated fleet in the foreground until Ctrl-C / SIGTERM.

    The inventory is written once every host listens. A fleet larger than one process's open-file
    limit allows is served by several processes. Exit codes: 0 stopped cleanly; 4 bad scenario file;
    5 usage error (bad --fault, address in use, more hosts than the machine's open-file limits allow).
    """
    from auditor.lab.addressing import CapacityError, nofile_limit, plan_processes, system_free_files

    if ports not in ("standard", "free"):
        raise UsageError("--ports: expected standard or free")
    members = build_members(scenarios or [], hosts, seed)
    faults = parse_faults(fault)
    if not kerberos and any("skew" in f or "unknown_spn" in f for f in faults.values()):
        raise UsageError("--fault skew / unknown-spn need --kerberos")
    if kerberos:
        import shutil

        if shutil.which("krb5kdc", path="/usr/sbin:/usr/local/sbin:" + os.environ.get("PATH", "")) is None:
            raise UsageError("--kerberos needs the MIT KDC: apt-get install krb5-kdc krb5-admin-server "
                             "(scripts/setup.sh --test installs it)")
    unknown = set(faults) - {m.name for m in members}
    if unknown:
        raise UsageError(f"--fault: no lab host named {', '.join(sorted(unknown))}")
    try:
        plan = plan_processes(len(members), nofile_limit(), system_free_files(), processes)
    except CapacityError as exc:
        raise UsageError(f"--hosts {len(members):,}: {exc}") from None
    console = Console()
    if plan.processes > 1:
        if kerberos:
            raise UsageError(f"--kerberos serves one process; {len(members):,} hosts need {plan.processes} here "
                             "(use fewer --hosts or raise the open-file limit)")
        return _serve_spread(console, scenarios or [], hosts, seed, ports, faults, plan.processes, inventory_out, members)
    from auditor.lab.fleet import LabFleet, settle_for_serving

    fleet = LabFleet(members, ports=ports, faults=faults, kerberos=kerberos)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await fleet.start()
        except OSError as exc:
            raise UsageError(f"cannot start the lab fleet: {exc.strerror or exc} (try --ports free)") from None
        settle_for_serving()
        try:
            inv, known = fleet.write_inventory(inventory_out)
            auth = f"Kerberos, realm {fleet.principal.split('@')[1]}" if fleet.principal else "NTLM"
            _say_ready(console, members, inv, known, 1, auth)
            await stop.wait()
        finally:
            await fleet.stop()
            console.print("lab: stopped")

    asyncio.run(main())
    return int(ExitCode.OK)


def _say_ready(console: Console, members: list[Any], inv: Path, known: Path, processes: int, auth: str = "NTLM") -> None:
    n_win = sum(m.scenario.platform == "windows" for m in members)
    spread = f" (served by {processes} processes)" if processes > 1 else ""
    console.print(f"lab: {n_win} Windows hosts (WinRS, {auth}) and {len(members) - n_win} edge nodes (SSH) listening{spread}")
    console.print(f"inventory: {inv}  (SSH host keys: {known})")
    console.print(f"try: auditor run {PLAYBOOKS.name}/mirrored-mode.yml {PLAYBOOKS.name}/edge-nodes.yml -i {inv}")
    console.print("Ctrl-C to stop.")


def _serve_spread(console: Console, scenarios: list[Path], hosts: Optional[int], seed: int, ports: str,
                  faults: dict[str, dict[str, Any]], processes: int, inventory_out: Path, members: list[Any]) -> int:
    """Serve the fleet from ``processes`` shard processes (auditor/lab/spread.py) until SIGINT/SIGTERM."""
    import threading

    from auditor.lab.spread import FleetSpec, ShardFailed, SpreadFleet

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    spec = FleetSpec([str(p) for p in scenarios], hosts, seed, cover=True, ports=ports, faults=faults)
    fleet = SpreadFleet(spec, processes)
    try:
        fleet.start()
    except ShardFailed as exc:
        raise UsageError(f"cannot start the lab fleet: {exc} (try --ports free)") from None
    try:
        inv, known = fleet.write_inventory(inventory_out)
        _say_ready(console, members, inv, known, processes)
        stop.wait()
    finally:
        fleet.stop()
        console.print("lab: stopped")
    return int(ExitCode.OK)


def _default_formats() -> str:
    from auditor.report.writers import available_formats

    return "json,html" if "html" in available_formats() else "json"


def demo_command(
    output: Path = typer.Option(Path("reports"), "-o", "--output", help="Folder for reports."),
    report: Optional[str] = typer.Option(None, "--report", help="Report formats, comma separated (default: json,html)."),
    hosts: int = typer.Option(50, "--hosts", min=1, max=5000, help="Fleet size (every library scenario at least once when it fits)."),
    seed: int = typer.Option(1, "--seed", help="Seed of the fleet generator."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress or recap."),
    store: opt.Store = None,
) -> int:
    """Start a simulated fleet (Windows + edge, some hosts unreachable or hung on purpose), audit it with the
    shipped playbooks over real WinRM and SSH on loopback, write the reports, print the summary, stop the fleet.

    Exit codes: 0 every host got the verdict (or failure) its scenario declares; otherwise the audit's own
    code (2 checks failed, 3 hosts unreachable -- the demo fleet always has both, so 2/3 means a host did NOT
    match its scenario); 99 interrupted.
    """
    from auditor.commands.run import execute_audit, exit_code_for, parse_formats
    from auditor.lab.fleet import LabFleet
    from auditor.lab.generator import generate_fleet
    from auditor.lab.scenarios import load_library
    from auditor.runner import RunOptions

    formats = parse_formats(report or _default_formats())
    library = [s for s in load_library() if not s.enable]  # opt-in scenarios need `auditor run --enable`
    members = generate_fleet(library, hosts, seed, cover=True)
    fleet = LabFleet(members, ports="free")
    console = Console()
    options = RunOptions(forks=100, connect_timeout=3.0, command_timeout=5.0, host_deadline=6.0, enabled=set())
    with tempfile.TemporaryDirectory(prefix="auditor-demo-") as tmp, fleet.running():
        inventory, _ = fleet.write_inventory(Path(tmp) / "lab.yml")
        if not quiet:
            n_win = sum(h.platform == "windows" for h in fleet.hosts)
            console.print(f"demo: {n_win} Windows hosts (WinRS) + {len(fleet.hosts) - n_win} edge nodes (SSH) on loopback")
        run, _paths = execute_audit([str(PLAYBOOKS / "mirrored-mode.yml"), str(PLAYBOOKS / "edge-nodes.yml")],
                                    [str(inventory)], limit=None, options=options, formats=formats, output=output,
                                    console=console, quiet=quiet, store=store)
    mismatches = expectation_mismatches(run, {m.name: m.scenario for m in members})
    if not quiet:
        matched = len(members) - len(mismatches)
        console.print(f"demo: {matched}/{len(members)} hosts got what their scenario declares"
                      + ("" if not mismatches else ": " + "; ".join(mismatches[:10])))
    if run.interrupted:
        return int(ExitCode.INTERRUPTED)
    return int(ExitCode.OK) if not mismatches else int(exit_code_for(run))


def expectation_mismatches(run: Any, scenarios: dict[str, Any]) -> list[str]:
    """``host: got X, expected Y`` for every host whose result differs from its scenario's ``expect``."""
    out = []
    for h in run.hosts:
        sc = scenarios.get(h.name)
        if sc is None:
            continue
        exp = sc.expect
        verdict = h.verdicts()[0] if h.verdicts() else None
        if exp.status is not None and h.status.value != exp.status:
            out.append(f"{h.name} ({sc.name}): status {h.status.value}, expected {exp.status}")
        elif exp.verdict is not None and (verdict is None or verdict.name != exp.verdict):
            out.append(f"{h.name} ({sc.name}): verdict {verdict.name if verdict else None}, expected {exp.verdict}")
        elif exp.confidence is not None and verdict is not None and verdict.confidence.value != exp.confidence:
            out.append(f"{h.name} ({sc.name}): confidence {verdict.confidence.value}, expected {exp.confidence}")
    return out


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")
    app.command("demo")(demo_command)
