"""The WSL-faithful `.wslconfig` parser: public API.

    decode_wslconfig(data) -> DecodedConfig          bytes -> what WSL's C runtime reads (+ display lines)
    parse_wslconfig(data, path=...) -> WslConfig     WSL's own parse: settings, unknown keys, warnings
    effective_settings(cfg, ...) -> EffectiveSettings  WSL's adjustments after parsing (policy, OS, IPv6...)

All three are pure, never raise, and return dataclasses with ``to_dict()`` (JSON-ready facts).
Semantics and sources: docs/wslconfig.md; transcribed from microsoft/WSL (see wslconfig_scan.py).
"""

from __future__ import annotations

from auditor.mirrored.wslconfig_decode import MAX_BYTES, decode_wslconfig
from auditor.mirrored.wslconfig_effective import effective_settings
from auditor.mirrored.wslconfig_keys import (
    BOOL, INT, IPV4, KEY_BY_NAME, MAC, MEMORY, MEMORY_RECLAIM_VALID, MSG, NETMODE, NETWORKING_MODES_VALID, PORTS,
    RECLAIM,
)
from auditor.mirrored.wslconfig_model import (
    Adjustment, DecodedConfig, EffectiveSettings, KeySetting, Occurrence, ParserWarning, WslConfig,
)
from auditor.mirrored.wslconfig_scan import Entry, scan
from auditor.mirrored.wslconfig_values import parse_value

__all__ = [
    "MAX_BYTES", "DEFAULT_PATH", "decode_wslconfig", "parse_wslconfig", "effective_settings",
    "Adjustment", "DecodedConfig", "EffectiveSettings", "KeySetting", "Occurrence", "ParserWarning", "WslConfig",
]

#: Path used in WSL-style messages when the caller does not give the real one.
DEFAULT_PATH = "%USERPROFILE%\\.wslconfig"

# Which warning WSL prints for a bad value, by key kind (extra message arguments after value and name).
_BAD_VALUE = {
    BOOL: ("invalid-boolean", ()), INT: ("invalid-integer", ()), PORTS: ("invalid-integer", ()),
    IPV4: ("invalid-ip", ()), MEMORY: ("invalid-memory", ()), MAC: ("invalid-mac", ()),
    NETMODE: ("invalid-enum", (NETWORKING_MODES_VALID,)), RECLAIM: ("invalid-enum", (MEMORY_RECLAIM_VALID,)),
}


def _views(units: list[int]) -> tuple[str, str]:
    """(raw, wsl): the human text of a value and WSL's char view (each UTF-16 unit cast to char), both cut
    where WSL's C string ends (the first unit whose low byte is 0)."""
    cut = next((i for i, u in enumerate(units) if u & 0xFF == 0), len(units))
    kept = units[:cut]
    raw = b"".join(u.to_bytes(2, "little") for u in kept).decode("utf-16-le", "replace")
    return raw, "".join(chr(u & 0xFF) for u in kept)


def _parse(data: bytes, path: str) -> WslConfig:
    decoded = decode_wslconfig(data)
    cfg = WslConfig(decoded=decoded, path=path, warnings=list(decoded.warnings))
    if decoded.wsl_text is None:
        return cfg

    def warn(code: str, line: int, args: tuple[object, ...], key: str | None = None, fatal: bool = False) -> None:
        text = MSG[code]
        if code == "duplicate-key":
            message = text.format(*args)
        elif code in ("invalid-section", "invalid-key-name"):
            message = text.format(path, line)
        elif code in ("expected", "invalid-escape", "unknown-key"):
            message = text.format(args[0], path, line)
        else:  # value warnings: value, key name, path, line, extras
            message = text.format(args[0], args[1], path, line, *args[2:])
        cfg.warnings.append(ParserWarning(code=code, message=message, line=line, key=key, fatal=fatal))

    def on_entry(entry: Entry) -> bool:
        raw, wsl_value = _views(entry.value_units)
        occ = Occurrence(name=entry.name, section=entry.section, line=entry.line,
                         start_line=entry.start_line, raw=raw)
        spec = KEY_BY_NAME.get(entry.name.lower())
        if spec is None:
            warn("unknown-key", entry.line, (entry.name,), key=entry.name)
            cfg.unknown_keys.append(occ)
            return True
        first = cfg.settings.get(spec.canonical)
        if first is not None:  # ConfigKey::Parse: the first occurrence wins, even if its value was invalid
            warn("duplicate-key", entry.line, (entry.name, path, entry.line, first.name, path, first.line),
                 key=entry.name)
            first.duplicates.append(occ)
            return True
        ok, value, bad = parse_value(spec.kind, wsl_value)
        if spec.kind not in _BAD_VALUE:  # strings and paths: keep the human text, not WSL's char view
            value = raw
        code, extra = _BAD_VALUE.get(spec.kind, ("", ()))
        fatal = spec.kind == MAC and not ok  # WSL throws: the VM does not start
        for _ in bad:
            warn(code, entry.line, (raw, entry.name, *extra), key=entry.name, fatal=fatal)
        cfg.settings[spec.canonical] = KeySetting(
            key=spec.canonical, name=entry.name, section=entry.section, line=entry.line,
            start_line=entry.start_line, raw=raw, valid=ok, value=value if ok else None,
            default=spec.default, effective=value if ok else spec.default,
        )
        return not fatal

    scan(decoded.wsl_text, on_entry, warn)
    return cfg


def parse_wslconfig(data: bytes, *, path: str = DEFAULT_PATH) -> WslConfig:
    """Parse `.wslconfig` bytes exactly as WSL does. Never raises."""
    try:
        return _parse(data, path)
    except Exception as exc:  # a parser bug must not lose the host's result; report it as a warning
        cfg = WslConfig(decoded=decode_wslconfig(b""), path=path)
        cfg.warnings.append(ParserWarning(code="internal-error", source="auditor",
                                          message=f"auditor could not parse this file: {type(exc).__name__}"))
        return cfg
