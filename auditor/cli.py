"""The `auditor` command line: parse arguments, call the library, map outcomes to exit codes.

Sub-commands that belong to one area live next to it and are mounted here:
``auditor.inventory.cli`` (inventory), ``auditor.lab.cli`` (lab, demo), ``auditor.report.cli``
(report, schema), ``auditor.remediate.cli`` (remediate). A missing area module is simply not mounted.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer

from auditor import __version__
from auditor.errors import AuditorError, ExitCode

EXIT_CODES_HELP = (
    "Exit codes: 0 all checks passed; 2 checks failed; 3 hosts unreachable, auth failed or timed out; "
    "4 bad input (playbook, inventory, scenario); 5 usage error; 99 interrupted; 250 internal error."
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

#: (module, attribute, how to mount): "typer:NAME" adds a sub-app, "command" registers a function
#: or list of (name, function) pairs.
AREA_MOUNTS = [
    ("auditor.commands.run", "register"),
    ("auditor.inventory.cli", "register"),
    ("auditor.lab.cli", "register"),
    ("auditor.report.cli", "register"),
    ("auditor.remediate.cli", "register"),
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"auditor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."),
) -> None:
    pass


_mounted = False


def _mount_areas() -> None:
    global _mounted
    if _mounted:  # main() may be called many times in one process (tests, embedding)
        return
    _mounted = True
    for module_name, attr in AREA_MOUNTS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        getattr(module, attr)(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: never lets a traceback reach the user for input errors."""
    _mount_areas()
    try:
        result = app(args=argv, standalone_mode=False)
    except AuditorError as exc:
        typer.secho(f"ERROR: {exc}", err=True, fg="red")
        return _exit(int(exc.exit_code))
    except click.exceptions.NoSuchOption as exc:
        typer.secho(f"ERROR: {exc.format_message()} (see --help)", err=True, fg="red")
        return _exit(ExitCode.USAGE)
    except click.UsageError as exc:
        typer.secho(f"ERROR: {exc.format_message()} (see --help)", err=True, fg="red")
        return _exit(ExitCode.USAGE)
    except click.exceptions.Abort:
        typer.secho("Interrupted.", err=True, fg="yellow")
        return _exit(ExitCode.INTERRUPTED)
    except click.exceptions.Exit as exc:
        return _exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho("Interrupted.", err=True, fg="yellow")
        return _exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        typer.secho(f"ERROR: {exc.format_message()}", err=True, fg="red")
        return _exit(ExitCode.USAGE)
    if isinstance(result, int):
        return _exit(result)
    return _exit(ExitCode.OK)


def _exit(code: int | None) -> int:
    # the console script wrapper passes this to sys.exit()
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
