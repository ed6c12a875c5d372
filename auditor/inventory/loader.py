"""Inventory sources -> ``Inventory``, with ansible-core's choice of parser and variable precedence.

A source is a comma-separated host list (``a,b,``), a folder (its files, sorted, skipping hidden
names, host_vars/group_vars and ansible's ignored extensions), or a file. A file is tried as ansible
tries it: executable -> script; then YAML (no extension, .yml, .yaml, .json); then INI (anything but
.toml). Unlike ansible, which warns and carries on without a source it cannot parse, auditor stops
with a one-line error: an inventory that silently loses hosts is worse than none.

Variable precedence for a host (lowest first), as ``ansible-inventory --host`` computes it:
the 'all' group's vars; other groups' vars ordered by (depth, ansible_group_priority, name);
group_vars/all; group_vars/<group> for each source, then each group in that order; the host's own
inventory vars; host_vars/<host>.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import os
from pathlib import Path
from typing import Any, Iterator

from auditor.errors import BadInputError, Location
from auditor.inventory.datafile import parse_data, read_text
from auditor.inventory.hostnames import parse_address
from auditor.inventory.ini import parse_ini
from auditor.inventory.model import Host, Inventory
from auditor.inventory.script import parse_script
from auditor.inventory.varsfiles import VarsFiles
from auditor.inventory.vault import VaultSecret
from auditor.inventory.yamlinv import NotYamlInventory, parse_yaml_inventory

YAML_EXTENSIONS = ("", ".yml", ".yaml", ".json")
IGNORED_EXTENSIONS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry")
IGNORED_NAMES = ("host_vars", "group_vars", "vars_plugins")

#: variables ansible-inventory never shows (ansible's INTERNAL_STATIC_VARS: magic and play variables)
INTERNAL_VARS = frozenset({
    "ansible_async_path", "ansible_collection_name", "ansible_config_file", "ansible_dependent_role_names",
    "ansible_diff_mode", "ansible_facts", "ansible_forks", "ansible_inventory_sources", "ansible_limit",
    "ansible_play_batch", "ansible_play_hosts", "ansible_play_hosts_all", "ansible_play_role_names",
    "ansible_playbook_python", "ansible_role_name", "ansible_role_names", "ansible_run_tags",
    "ansible_skip_tags", "ansible_verbosity", "ansible_version", "inventory_dir", "inventory_file",
    "inventory_hostname", "inventory_hostname_short", "groups", "group_names", "hostvars", "playbook_dir",
    "play_hosts", "role_name", "role_names", "role_path", "role_uuid",
})


#: objects built during a pause past which its end makes the full pass the collector would have made meanwhile
GC_DEBT = 10_000


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a large structure is built (an inventory, a plan), one full pass after.

    Building allocates hundreds of thousands of objects that all stay alive (a YAML node graph, hosts, plans).
    As they pile up the collector makes full passes over the whole heap, each finding nothing to free and
    longer than the last (40,000 hosts: 2.5 of the 4.1 s load_inventory took). Paused, it makes one full
    pass at the end (when more than ``GC_DEBT`` objects were built; a small build leaves the collector to
    its own schedule), so the cost is paid here, not by whatever allocates next. Collection resumes only if
    it was on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            if gc.get_count()[0] > GC_DEBT:
                gc.collect()


def load_inventory(sources: list[str], vault_secrets: list[VaultSecret] | tuple[VaultSecret, ...] = ()) -> Inventory:
    """Read every source into one ``Inventory`` with each host's effective variables."""
    with gc_paused():
        return _load_inventory(sources, tuple(vault_secrets))


def _load_inventory(sources: list[str], secrets: tuple[VaultSecret, ...]) -> Inventory:
    inv = Inventory()
    for source in sources:
        if not source:
            continue
        if "," in source and not os.path.exists(source):
            _load_host_list(source, inv)
        else:
            path = os.path.abspath(os.path.expanduser(source))
            if not os.path.exists(path):
                raise BadInputError("inventory source not found", Location(source))
            _load_path(Path(path), inv, secrets)
        inv.sources.append(source)
    inv.reconcile()
    _resolve_vars(inv, VarsFiles(list(inv.sources), secrets, inv.warnings))
    return inv


def _load_host_list(source: str, inv: Inventory) -> None:
    for entry in source.split(","):
        entry = entry.strip()
        if not entry:
            continue
        parsed = parse_address(entry)
        name, port = parsed if parsed and "[" not in parsed[0] else (entry, None)
        if name not in inv.hosts:
            inv.add_host(name, "ungrouped", port)


def _load_path(path: Path, inv: Inventory, secrets: tuple[VaultSecret, ...]) -> None:
    if path.is_dir():
        for entry in sorted(os.listdir(path)):
            if entry.startswith(".") or entry in IGNORED_NAMES or entry.endswith(IGNORED_EXTENSIONS):
                continue
            _load_path(path / entry, inv, secrets)
        return
    _load_file(path, inv, secrets)


def _load_file(path: Path, inv: Inventory, secrets: tuple[VaultSecret, ...]) -> None:
    """Try the parsers ansible would try, in its order; the first that succeeds wins."""
    ext = path.suffix
    if ext == ".toml":
        raise BadInputError("TOML inventories are not supported (use INI or YAML)", Location(str(path)))
    script_error: BadInputError | None = None
    if os.access(path, os.X_OK):
        trial = copy.deepcopy(inv)
        try:
            parse_script(str(path), trial, secrets)
            return _adopt(inv, trial)
        except BadInputError as exc:
            script_error = exc  # maybe a data file with the executable bit set: read it as data
    text = read_text(path, secrets)
    yaml_error: BadInputError | None = None
    if ext in YAML_EXTENSIONS:
        trial = copy.deepcopy(inv)
        try:
            parse_yaml_inventory(parse_data(text, str(path), secrets), str(path), trial)
            return _adopt(inv, trial)
        except NotYamlInventory as exc:
            if exc.plugin_config:
                raise BadInputError(str(exc), Location(str(path), 1)) from None
            yaml_error = BadInputError(str(exc), Location(str(path)))
        except BadInputError as exc:
            yaml_error = exc
    try:
        parse_ini(text, str(path), inv)
    except BadInputError:
        # report the error of the format the file most likely meant
        if script_error is not None:
            raise script_error from None
        if yaml_error is not None and ext in (".yml", ".yaml", ".json"):
            raise yaml_error from None
        raise


def _adopt(inv: Inventory, trial: Inventory) -> None:
    """Keep what a parse attempt on a scratch copy built (a failed attempt leaves no half-added hosts)."""
    inv.hosts, inv.groups, inv.warnings = trial.hosts, trial.groups, trial.warnings


def _resolve_vars(inv: Inventory, files: VarsFiles) -> None:
    """Compute each host's effective variables (ansible's VariableManager.get_vars, stage 'all').

    The group part is merged once per distinct set of groups and shared (``Host.inherited``); each host's
    ``vars`` is a copy of it updated with the host's own variables, which keeps ansible's key order."""
    groups = inv.groups
    inherited: dict[tuple[str, ...], dict[str, Any]] = {}
    for host in inv.hosts.values():
        base = inherited.get(tuple(host.groups))
        if base is None:
            ordered = sorted((groups[g] for g in host.groups), key=lambda g: (g.depth, g.priority, g.name))
            merged: dict[str, Any] = dict(groups["all"].vars)
            for group in ordered:
                merged.update(group.vars)
            merged.update(files.vars_for("group_vars", ["all"]))
            merged.update(files.vars_for("group_vars", [g.name for g in ordered]))
            base = inherited[tuple(host.groups)] = {k: v for k, v in merged.items() if k not in INTERNAL_VARS}
        variables = dict(base)
        for source in (host.own_vars, files.vars_for("host_vars", [host.name])):
            for key, value in source.items():
                if key not in INTERNAL_VARS:
                    variables[key] = value
        host.vars, host.inherited = variables, base


__all__ = ["Host", "Inventory", "load_inventory"]
