"""Console output of a remediation run: per host, its tasks (and diffs with --diff); one summary line."""

from __future__ import annotations

from rich.console import Console

from auditor.results import HOST_DOWN_STATUSES, RunResult, TaskStatus
from auditor.textsafe import markup

STYLE = {TaskStatus.ok: "green", TaskStatus.changed: "yellow", TaskStatus.failed: "bold red", TaskStatus.skipped: "dim"}
MAX_HOSTS_SHOWN = 200


def changed_hosts(run: RunResult) -> list[str]:
    """Hosts with a changed task; in a check-mode run also hosts with a command check mode could not predict."""
    from auditor.remediate.modules.commands import CHECK_SKIP

    def pending(t) -> bool:
        return t.status is TaskStatus.changed or (t.check_mode and t.status is TaskStatus.skipped and t.message == CHECK_SKIP)

    return [h.name for h in run.hosts if any(pending(t) for t in h.all_tasks())]


def print_tasks(console: Console, run: RunResult, *, show_diff: bool, check_mode: bool) -> None:
    would = "would change" if check_mode else "changed"
    for host in run.hosts[:MAX_HOSTS_SHOWN]:
        head = f"[bold]{markup(host.name)}[/bold]"
        if host.status in HOST_DOWN_STATUSES:
            console.print(f"{head}: [bold red]{host.status.value}[/] {markup(host.error or '')}", highlight=False)
            continue
        console.print(head, highlight=False)
        for task in host.all_tasks():
            label = "would change" if task.status is TaskStatus.changed and check_mode else task.status.value
            item = f" [{markup(task.loop_item)}]" if task.loop_item else ""
            console.print(f"  [{STYLE[task.status]}]{label:>12}[/] {markup(task.name)}{item}: {markup(task.message)}",
                          highlight=False)
            if task.backup_path:
                console.print(f"{'':>15}backup: {markup(task.backup_path)}", highlight=False)
            if show_diff and task.diff:
                for line in task.diff.splitlines():
                    style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
                    console.print(f"{'':>15}[{style}]{markup(line)}[/]", highlight=False)
    if len(run.hosts) > MAX_HOSTS_SHOWN:
        console.print(f"... {len(run.hosts) - MAX_HOSTS_SHOWN} more hosts in the report", highlight=False)
    console.print(summary(run, would), highlight=False)


def summary(run: RunResult, would: str = "changed") -> str:
    down = sum(1 for h in run.hosts if h.status in HOST_DOWN_STATUSES)
    failed = sum(1 for h in run.hosts if any(t.status is TaskStatus.failed for t in h.all_tasks()))
    tasks = ", ".join(f"{k} {v}" for k, v in sorted(run.summary.tasks.items())) or "no tasks"
    line = (f"{len(run.hosts)} hosts: {len(changed_hosts(run))} {would}, {failed} with failed tasks, "
            f"{down} not reached | tasks: {tasks}")
    if run.interrupted:
        line += " | INTERRUPTED"
    return line
