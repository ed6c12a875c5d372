"""``group_vars/`` and ``host_vars/`` next to each inventory source (ansible's host_group_vars plugin).

For an entity NAME, the first of ``NAME``, ``NAME.yml``, ``NAME.yaml``, ``NAME.json`` that exists is
used; if it is a folder, every file in it (recursively, sorted, skipping hidden and ``~`` backups,
only those extensions or none) is read in order, later files winning.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from auditor.errors import BadInputError, Location
from auditor.inventory.datafile import load_data_file
from auditor.inventory.vault import VaultSecret

EXTENSIONS = (".yml", ".yaml", ".json")


class VarsFiles:
    """Finds and caches vars files for the inventory sources given."""

    def __init__(self, sources: list[str], secrets: tuple[VaultSecret, ...], warnings: list[str]):
        self.secrets = secrets
        self.warnings = warnings
        self._cache: dict[Path, dict[str, Any]] = {}
        self._found: dict[tuple[str, str], list[Path]] = {}
        self._folders: dict[str, bool] = {}
        self.basedirs: list[str] = []
        for source in sources:
            if "," in source and not os.path.exists(source):
                continue  # a host list, not a path
            base = source if os.path.isdir(source) else os.path.dirname(source) or "."
            self.basedirs.append(os.path.realpath(base))

    def vars_for(self, kind: str, names: list[str]) -> dict[str, Any]:
        """Merged variables of ``kind`` (group_vars/host_vars) for ``names``, per source then per name."""
        out: dict[str, Any] = {}
        for base in self.basedirs:
            folder = os.path.join(base, kind)
            if not self._usable(folder, kind):
                continue
            for name in names:
                if name.startswith(os.sep):
                    continue
                key = (folder, name)
                if key not in self._found:
                    self._found[key] = _find(Path(folder), name)
                for path in self._found[key]:
                    out.update(self._load(path))
        return out

    def _usable(self, folder: str, kind: str) -> bool:
        if folder not in self._folders:
            self._folders[folder] = os.path.isdir(folder)
            if os.path.exists(folder) and not self._folders[folder]:
                self.warnings.append(f"found {kind} that is not a directory, skipping: {folder}")
        return self._folders[folder]

    def _load(self, path: Path) -> dict[str, Any]:
        if path not in self._cache:
            data = load_data_file(path, self.secrets)
            if data in (None, {}, [], "", 0, False):
                data = {}  # empty files are ignored
            if not isinstance(data, dict):
                raise BadInputError(f"a vars file must hold a mapping of variable names, found {type(data).__name__}",
                                    Location(str(path), 1))
            self._cache[path] = dict(data)
        return self._cache[path]


def _find(folder: Path, name: str) -> list[Path]:
    for ext in ("", *EXTENSIONS):
        candidate = folder / f"{name}{ext}"
        if candidate.exists():
            return _walk(candidate) if candidate.is_dir() else [candidate]
    return []


def _walk(folder: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(os.listdir(folder)):
        if entry.startswith(".") or entry.endswith("~"):
            continue
        full, ext = folder / entry, os.path.splitext(entry)[1]
        if full.is_dir() and not ext:
            found.extend(_walk(full))
        elif full.is_file() and (not ext or ext in EXTENSIONS):
            found.append(full)
    return found
