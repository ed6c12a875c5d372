"""Read an inventory or vars file the way ansible-core's DataLoader does.

JSON is tried first, then YAML (1.1, as PyYAML reads it). A fully vault-encrypted file is decrypted
first; ``!vault`` values stay encrypted (``VaultedValue``); ``!unsafe`` strings become ``UnsafeStr``
(still strings, remembered so ``--list`` can print them as ansible does). Mappings remember the
line they start on, and the line of each key, so later checks can name file:line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from auditor.errors import BadInputError, Location
from auditor.inventory.vault import VaultedValue, VaultError, VaultSecret, decrypt, is_encrypted

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UnsafeStr(str):
    """A string marked ``!unsafe`` (never templated)."""


class LineDict(dict):
    """A mapping from a YAML file, with the 1-based line of itself and of each scalar key."""

    line: int | None = None
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int | None:
        return getattr(self, "key_lines", {}).get(key, self.line)


def _mark_unsafe(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, UnsafeStr):
        return UnsafeStr(value)
    if isinstance(value, list):
        return [_mark_unsafe(v) for v in value]
    if isinstance(value, dict):
        return {k: _mark_unsafe(v) for k, v in value.items()}
    return value


def _make_loader(secrets: tuple[VaultSecret, ...]) -> type:
    class Loader(_BaseLoader):
        pass

    def construct_map(loader: Any, node: yaml.MappingNode) -> Any:
        data = LineDict()
        data.line = node.start_mark.line + 1
        data.key_lines = {}
        yield data
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark) from None
            data[key] = loader.construct_object(value_node, deep=True)
            data.key_lines[key] = key_node.start_mark.line + 1

    def _retagged(loader: Any, node: yaml.Node) -> Any:
        # construct the node as if it had no explicit tag (ansible: resolve with implicit=(True, False))
        tag = loader.resolve(type(node), node.value, (True, False))
        return loader.construct_object(type(node)(tag, node.value, node.start_mark, node.end_mark), deep=True)

    def construct_vault(loader: Any, node: yaml.Node) -> VaultedValue:
        text = _retagged(loader, node)
        if not isinstance(text, str):
            raise yaml.constructor.ConstructorError(None, None, "the !vault tag requires a string value", node.start_mark)
        return VaultedValue(str(text), secrets)

    def construct_unsafe(loader: Any, node: yaml.Node) -> Any:
        return _mark_unsafe(_retagged(loader, node))

    Loader.add_constructor("tag:yaml.org,2002:map", construct_map)
    Loader.add_constructor("!vault", construct_vault)
    Loader.add_constructor("!vault-encrypted", construct_vault)
    Loader.add_constructor("!unsafe", construct_unsafe)
    return Loader


def _from_json_value(value: Any, secrets: tuple[VaultSecret, ...]) -> Any:
    """Ansible's legacy JSON profile: ``{"__ansible_vault": ...}`` and ``{"__ansible_unsafe": ...}``."""
    if isinstance(value, dict):
        if len(value) == 1 and "__ansible_vault" in value and isinstance(value["__ansible_vault"], str):
            return VaultedValue(value["__ansible_vault"], secrets)
        if len(value) == 1 and "__ansible_unsafe" in value and isinstance(value["__ansible_unsafe"], str):
            return UnsafeStr(value["__ansible_unsafe"])
        return {k: _from_json_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json_value(v, secrets) for v in value]
    return value


def parse_json(text: str, secrets: tuple[VaultSecret, ...] = ()) -> Any:
    return _from_json_value(json.loads(text), secrets)


def read_text(path: Path, secrets: tuple[VaultSecret, ...]) -> str:
    """A file's text, decrypted if it is a vault file. Errors name the file, never the content."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read file: {exc.strerror or exc}", Location(str(path))) from None
    if is_encrypted(raw.lstrip()):
        try:
            raw = decrypt(raw.lstrip(), secrets)
        except VaultError as exc:
            raise BadInputError(str(exc), Location(str(path))) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BadInputError("file is not valid UTF-8", Location(str(path), line)) from None


def parse_data(text: str, path: str, secrets: tuple[VaultSecret, ...] = ()) -> Any:
    """JSON or YAML text -> data; a syntax error becomes a one-line BadInputError at file:line."""
    try:
        return parse_json(text, secrets)
    except (ValueError, RecursionError):
        pass
    try:
        return yaml.load(text, Loader=_make_loader(secrets))  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
        what = exc.problem or exc.context or "syntax error"
        raise BadInputError(f"invalid YAML: {what}", loc) from None
    except yaml.YAMLError as exc:
        raise BadInputError(f"invalid YAML: {type(exc).__name__}", Location(path)) from None


def load_data_file(path: Path, secrets: tuple[VaultSecret, ...] = ()) -> Any:
    return parse_data(read_text(path, secrets), str(path), secrets)
