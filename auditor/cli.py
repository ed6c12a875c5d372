"""The `auditor` command line: parse arguments, call the library, map outcomes to exit codes.

Sub-commands that belong to one area live next to it and are mounted here:
``auditor.inventory.cli`` (inventory), ``auditor.lab.cli`` (lab, demo), ``auditor.report.cli``
(report, schema), ``auditor.remediate.cli`` (remediate). A missing area module is simply not mounted.
"""

from __future__ import annotations

import atexit
import importlib
import os
import signal
import sys
import threading

import click
import typer

from auditor import __version__
from auditor.errors import AuditorError, ExitCode

EXIT_CODES_HELP = (
    "Exit codes: 0 no host needs action; 2 a host needs action (its verdict says so, or a check could not be "
    "evaluated; settable with run --fail-on); 3 hosts unreachable, auth failed, timed out or errored; "
    "4 bad input (playbook, inventory, scenario, waiver file, store, output folder); 5 usage error; "
    "99 interrupted (Ctrl-C, SIGTERM); 250 internal error."
)

app = typer.Typer(
    name="auditor",
    help="Audit a fleet of Windows developer machines (WinRM) and Linux edge nodes (SSH) for the "
    "WSL2 mirrored-networking / Docker Desktop conflict, and fix it.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: Each area's module and the top-level commands its ``register(app)`` adds (tests/unit/test_cli_startup.py checks
#: the names against what it really adds): a command line naming one of them imports that area alone, so
#: `auditor run` does not import the web server, Celery or the history commands (each area costs imports).
AREA_COMMANDS: dict[str, tuple[str, ...]] = {
    "auditor.commands.run": ("run", "validate"),
    "auditor.inventory.cli": ("inventory",),
    "auditor.lab.cli": ("lab", "demo"),
    "auditor.report.cli": ("schema", "report"),
    "auditor.remediate.cli": ("remediate",),
    "auditor.history.cli": ("history", "diff"),
    "auditor.doctor.cli": ("doctor",),
    "auditor.distributed.cli": ("worker",),
    "auditor.serve.cli": ("serve", "schedule"),
}


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"auditor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."),
) -> None:
    pass


_mounted: set[str] = set()


def _mount_areas() -> None:
    """Mount every area's commands."""
    _mount(None)


def _mount(modules: list[str] | None) -> None:
    """Mount the commands of ``modules`` (None: every area); each area once per process, as main() may be
    called many times in one (tests, embedding)."""
    for module_name in AREA_COMMANDS if modules is None else modules:
        if module_name in _mounted:
            continue
        _mounted.add(module_name)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # a missing area module is simply not mounted
                continue
            raise
        module.register(app)


def areas_for(argv: list[str]) -> list[str] | None:
    """The one area a command line needs (the area of its command; none for --version), or None for all of them: no
    command, a root flag before it (help lists every command) or a name no area has (click then suggests the close
    ones)."""
    if argv[:1] == ["--version"]:
        return []
    if not argv or argv[0].startswith("-"):
        return None
    return next(([module] for module, commands in AREA_COMMANDS.items() if argv[0] in commands), None)


def _click_classes(name: str) -> tuple[type[BaseException], ...]:
    """Click's exception class ``name``, and typer's vendored copy of it when typer has one."""
    classes = [getattr(click.exceptions, name)]
    try:
        from typer._click import exceptions as vendored  # typer >= 0.29 ships its own click

        if hasattr(vendored, name):
            classes.append(getattr(vendored, name))
    except ImportError:
        pass
    return tuple(classes)


_USAGE_ERRORS = _click_classes("UsageError")
_ABORT: tuple[type[BaseException], ...] = _click_classes("Abort") if hasattr(click.exceptions, "Abort") else ()
_EXIT = _click_classes("Exit")
_CLICK_ERRORS = _click_classes("ClickException")
_NO_ARGS_HELP: tuple[type[BaseException], ...] = (
    _click_classes("NoArgsIsHelpError") if hasattr(click.exceptions, "NoArgsIsHelpError") else ())


def _message(exc: BaseException) -> str:
    format_message = getattr(exc, "format_message", None)
    return str(format_message()) if callable(format_message) else str(exc)


def _sigterm_as_interrupt() -> None:
    """A scheduler's or systemd's stop (SIGTERM) ends a run like Ctrl-C: hosts in flight are cancelled, partial
    reports and the retry file are written, the stored run is marked interrupted, exit code 99."""
    if threading.current_thread() is not threading.main_thread():
        return  # embedded in a program that owns its signals

    def interrupt(signum: int, frame: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # asyncio turns SIGINT into a clean cancellation of the run

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    """Entry point: never lets a traceback reach the user for input errors. Called without ``argv`` (the console
    script, ``python -m auditor``: the command line of this process) it ends the process itself (``end_process``)."""
    code = _main(argv)
    if argv is None:
        end_process(code)
    return code


def end_process(code: int) -> None:
    """End this process with ``code`` as Python's own exit would, less its last step: freeing every object of
    every module one by one (~0.15 s of CPU after a run, which has imported ~1,000 modules). Output is flushed
    and the atexit handlers run (logging, multiprocessing's children, weakref finalizers); files and stores were
    closed by the commands. Returns instead, for Python's own exit, when a non-daemon thread still runs (the exit
    waits for it) or a profiler or tracer is on (cProfile, pyinstrument, coverage write their data after main)."""
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if others or threading.current_thread() is not threading.main_thread():
        return
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (`| head`) or a closed stream: nothing to keep
            pass
    atexit._run_exitfuncs()
    os._exit(code)


def _main(argv: list[str] | None) -> int:
    _mount(areas_for(sys.argv[1:] if argv is None else argv))
    _sigterm_as_interrupt()
    try:
        result = app(args=argv, standalone_mode=False)
    except AuditorError as exc:
        typer.secho(f"ERROR: {exc}", err=True, fg="red")
        return _exit(int(exc.exit_code))
    except _NO_ARGS_HELP as exc:  # `auditor` or `auditor lab` alone: help is shown, as asked
        typer.echo(exc.format_message() if hasattr(exc, "format_message") else str(exc))
        return _exit(ExitCode.OK)
    except _USAGE_ERRORS as exc:
        typer.secho(f"ERROR: {_message(exc)} (see --help)", err=True, fg="red")
        return _exit(ExitCode.USAGE)
    except _EXIT as exc:
        return _exit(getattr(exc, "exit_code", 0))
    except (KeyboardInterrupt, *_ABORT):  # type: ignore[misc]  # a tuple of exception classes, built at import
        typer.secho("Interrupted.", err=True, fg="yellow")
        return _exit(ExitCode.INTERRUPTED)
    except _CLICK_ERRORS as exc:
        typer.secho(f"ERROR: {_message(exc)}", err=True, fg="red")
        return _exit(ExitCode.USAGE)
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the documented code, details on request
        if os.environ.get("AUDITOR_DEBUG"):
            raise
        typer.secho(f"INTERNAL ERROR: {type(exc).__name__}: {exc} (set AUDITOR_DEBUG=1 for a traceback; please report it)",
                    err=True, fg="red")
        return _exit(ExitCode.INTERNAL)
    if isinstance(result, int):
        return _exit(result)
    return _exit(ExitCode.OK)


def _exit(code: int | None) -> int:
    # the console script wrapper passes this to sys.exit()
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
