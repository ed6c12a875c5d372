"""Which shipped collector a script or command is, by its TEXT (never by the collector's name).

A simulated host answers what a real host would answer to the very same text: the shipped Windows
collector scripts (auditor/collectors/scripts/*.ps1) and the edge-node commands of
playbooks/edge-nodes.yml. Anything else is unknown to the models, which then answer like the real
shell does for an unknown command.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

SCRIPTS = Path(__file__).resolve().parents[2] / "collectors" / "scripts"
EDGE_PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "edge-nodes.yml"

#: kind -> shipped file name
WINDOWS_SCRIPTS = {
    "audit": "windows_audit.ps1",
    "user_context": "windows_user_context.ps1",
    "probe": "windows_probe.ps1",
}


def normalize(text: str) -> str:
    """Line endings, indentation and blank lines do not change what PowerShell runs (the shipped
    scripts have no here-strings). Ansible's PowerShell shell strips every line and drops blank ones
    before encoding a ``raw`` task, so the same script sent by ansible-playbook is still recognised."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(stripped for stripped in (line.strip() for line in lines) if stripped)


@functools.lru_cache(maxsize=1)
def _windows_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for kind, file in WINDOWS_SCRIPTS.items():
        path = SCRIPTS / file
        if path.is_file():
            table[normalize(path.read_text(encoding="utf-8-sig"))] = kind
    return table


def windows_collector(script: str) -> str | None:
    """``audit`` / ``user_context`` / ``probe`` when ``script`` is that shipped script, else None."""
    return _windows_table().get(normalize(script))


@functools.lru_cache(maxsize=1)
def _edge_table() -> dict[str, str]:
    table: dict[str, str] = {}
    if not EDGE_PLAYBOOK.is_file():
        return table
    plays = yaml.safe_load(EDGE_PLAYBOOK.read_text(encoding="utf-8")) or []
    for play in plays:
        for item in ((play.get("gather") or {}).get("linux") or []):
            if item.get("command"):
                table[" ".join(str(item["command"]).split())] = str(item["name"])
    return table


def edge_collector(command: str) -> str | None:
    """The edge playbook's collector whose command text this is (whitespace-insensitive), else None."""
    return _edge_table().get(" ".join(command.split()))


def edge_commands() -> dict[str, str]:
    """collector kind -> exact command text, as shipped (for tests and docs)."""
    return {kind: cmd for cmd, kind in _edge_table().items()}
