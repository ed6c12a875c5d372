"""Every piece of PowerShell auditor ships parses with a real PowerShell grammar and uses nothing Windows
PowerShell 5.1 lacks (issue 13, item 7).

The grammar is tree-sitter-powershell (PyPI) through py-tree-sitter. Checked: the collector scripts
(auditor/collectors/scripts/*.ps1), the collector batch wrapper and WinRM's stdin bootstrap, every remediation
step as it is sent (header + arguments + body: module-level ``*_PS`` constants of auditor.remediate.modules, through
``ps_step``), Docker Desktop's quit/start script for versions before 4.37, and ``powershell`` tasks of shipped
playbooks. PowerShell 7-only syntax: ``??`` / ``??=``, ``?.`` / ``?[]``, the ternary ``? :``, ``&&`` / ``||`` pipeline
chains, ``ForEach-Object -Parallel``, ``clean`` blocks.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell
import yaml

from auditor.collectors.batch import BatchItem, build_ps_batch
from auditor.mirrored import remediation as domain_remediation
from auditor.remediate import modules as remediation_modules
from auditor.mirrored.remediation.restarts import DockerDesktopRestartModule, RestartArgs
from auditor.remediate.wire import ps_step
from auditor.transports import winrm

ROOT = Path(__file__).resolve().parents[2]
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def problems(source: str) -> list[str]:
    """Syntax errors and PowerShell 7-only constructs in ``source``, each with line:column."""
    tree = PARSER.parse(source.encode("utf-8"))
    found: list[str] = []

    def at(node: tree_sitter.Node) -> str:
        return f"{node.start_point[0] + 1}:{node.start_point[1] + 1}"

    def walk(node: tree_sitter.Node) -> None:
        text = (node.text or b"").decode("utf-8", "replace")
        if node.type == "ERROR" or node.is_missing:
            found.append(f"{at(node)}: syntax error near {text[:40]!r}")
            return
        if node.type == "pipeline_chain_tail":
            found.append(f"{at(node)}: '&&'/'||' pipeline chain (PowerShell 7 only): {text[:40]!r}")
        if node.type == "command_parameter" and text.lower() == "-parallel":
            found.append(f"{at(node)}: ForEach-Object -Parallel (PowerShell 7 only)")
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return found


# --- the checker itself must be able to fail ------------------------------------------------------

@pytest.mark.parametrize("source", [
    "$a = $b ?? 'x'", "$a ??= 3", "$n = $o?.Name", "$v = $c ? 1 : 2", "git pull && echo ok", "Test-Path x || exit 1",
    "1..3 | ForEach-Object -Parallel { $_ }", "function f { process { $_ } clean { 'done' } }", "if ($a) { 'x' ",
])
def test_ps7_only_syntax_and_broken_scripts_are_caught(source):
    assert problems(source), source


@pytest.mark.parametrize("source", [
    "$r = [ordered]@{ A = 1; B = @() }", "try { Get-Item x -ErrorAction Stop } catch { $_.Exception.Message } finally { 1 }",
    "$x = if ($a) { 1 } else { 2 }", "foreach ($i in 1..3) { $i }", "1..3 | ForEach-Object { $_ * 2 }",
    "do { Start-Sleep -Milliseconds 5 } while ((Get-Date) -lt $d)", "$h = @{}; $h['k'] = \"$($a.b)\"",
])
def test_plain_ps51_is_accepted(source):
    assert problems(source) == []


# --- what is shipped --------------------------------------------------------------------------------

def shipped_scripts() -> dict[str, str]:
    scripts = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8-sig")
               for p in sorted((ROOT / "auditor" / "collectors" / "scripts").glob("*.ps1"))}
    scripts["collectors/batch.py (wrapper)"] = build_ps_batch([BatchItem("a", "Get-Date", 10), BatchItem("b", "1", 5)], "0f" * 8)
    scripts["transports/winrm.py STDIN_BOOTSTRAP"] = winrm.STDIN_BOOTSTRAP
    for package in (remediation_modules, domain_remediation):  # the generic modules and the domain's
        for info in pkgutil.iter_modules(package.__path__):
            mod = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, value in vars(mod).items():
                if name.endswith("_PS") and isinstance(value, str):
                    scripts[f"{package.__name__}.{info.name}.py {name}"] = ps_step(
                        f"{info.name}.test", {"path": "C:\\x", "n": 1}, value)
    restart = DockerDesktopRestartModule()
    _, arguments = restart.command(RestartArgs(user="CORP\\dev1", version="4.30.0"))
    import base64

    scripts["restarts.py quit/start (encoded)"] = base64.b64decode(arguments.rsplit(" ", 1)[-1]).decode("utf-16-le")
    for pb in sorted((ROOT / "playbooks").glob("*.yml")):
        for play in yaml.safe_load(pb.read_text(encoding="utf-8")) or []:
            for i, task in enumerate(play.get("tasks") or []):
                body = task.get("powershell")
                if body is not None:
                    scripts[f"{pb.name} task {i}"] = body if isinstance(body, str) else str(body.get("cmd", ""))
    return scripts


SHIPPED = shipped_scripts()


def test_the_shipped_set_is_complete():
    names = " ".join(SHIPPED)
    for expected in ("windows_audit.ps1", "windows_user_context.ps1", "windows_probe.ps1", "wrapper", "STDIN_BOOTSTRAP",
                     "restarts.py STATE_PS", "restarts.py RUN_AS_USER_PS", "restarts.py DD_QUIT_START_PS",
                     "wslconfig.py READ_PS", "wslconfig.py WRITE_PS", "wsl_policy.py WRITE_PS", "commands.py EXISTS_PS",
                     "quit/start"):
        assert expected in names, expected


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_powershell_parses_and_runs_on_51(name):
    assert problems(SHIPPED[name]) == [], name
