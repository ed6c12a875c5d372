"""YAML loading that remembers where every key and value came from, for file:line:column errors."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from auditor.errors import BadInputError, Location

Path_ = tuple[Any, ...]


@dataclass
class PositionedYAML:
    data: Any
    file: str
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)  # path -> (line, col) of the value
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)    # path -> (line, col) of the key
    sha256: str | None = None  # digest of the file's bytes, when read from a file

    def location(self, path: Path_, prefer_key: bool = False) -> Location:
        """Best location for ``path``: the node itself, else its nearest ancestor."""
        path = tuple(path)
        while True:
            table = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            for t in table:
                if path in t:
                    line, col = t[path]
                    return Location(self.file, line, col)
            if not path:
                return Location(self.file, 1, 1)
            path = path[:-1]


# libyaml's C parser when pyyaml has it (about 10x faster on a playbook), else the pure-Python one.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that rejects duplicate keys (YAML allows them silently; they hide mistakes)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})", key_node.start_mark
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_positioned(text: str, file: str) -> PositionedYAML:
    """Parse ``text``; raise BadInputError with file:line:col on YAML syntax errors."""
    try:
        loader = _UniqueKeyLoader(text)
        try:  # parse once: the node tree gives the positions, the same tree the data
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        raise BadInputError(f"invalid YAML: {exc.problem or exc.context}", loc) from None
    except yaml.YAMLError as exc:
        raise BadInputError(f"invalid YAML: {exc}", Location(file)) from None
    result = PositionedYAML(data, file)
    if node is not None:
        _walk(node, (), result)
    return result


def _walk(node: yaml.Node, path: Path_, out: PositionedYAML) -> None:
    out.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = path + (key,)
            out.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), out)


def read_positioned_file(path: str | Path, what: str, max_bytes: int) -> PositionedYAML:
    """Read a UTF-8 YAML file (BOM allowed) of at most ``max_bytes``; every failure is one BadInputError."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise BadInputError(f"{what} not found", Location(name)) from None
    except OSError as exc:
        raise BadInputError(f"cannot read {what}: {exc.strerror or exc}", Location(name)) from None
    if len(raw) > max_bytes:
        raise BadInputError(f"{what} is larger than {max_bytes} bytes", Location(name))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"expected UTF-8 text, found byte 0x{raw[exc.start]:02x} at offset {exc.start}", Location(name)) from None
    doc = load_positioned(text, name)
    doc.sha256 = hashlib.sha256(raw).hexdigest()
    return doc


def validation_error(exc: Any, doc: PositionedYAML) -> BadInputError:
    """The first error of a pydantic ``ValidationError`` as a BadInputError at the key's file:line:col."""
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    # pydantic marks dict-key errors with a "[key]" part; it is not part of the YAML path
    path = tuple(p for p in loc if p != "[key]")
    key = next((str(p) for p in reversed(path) if isinstance(p, str)), None)
    detail = err["msg"].removeprefix("Value error, ")
    if loc and loc[-1] == "[key]":
        return BadInputError(f"{key!r} is not allowed here: {detail}", doc.location(path, prefer_key=True))
    if err["type"] == "extra_forbidden":
        return BadInputError(f"unknown key {key!r}", doc.location(path, prefer_key=True))
    if err["type"] == "missing":
        return BadInputError(f"missing required key {key!r}", doc.location(path[:-1]))
    return BadInputError(f"{key!r}: {detail}" if key else detail, doc.location(path))
