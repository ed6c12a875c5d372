"""Result types of the `.wslconfig` parser. Plain dataclasses; ``to_dict()`` gives JSON-ready facts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


class _ToDict:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass
class ParserWarning(_ToDict):
    """One warning. ``source="wsl"``: WSL itself prints this text (console and Application event log,
    provider ``WSL``); ``source="auditor"``: our own observation (encoding, size), WSL says nothing."""

    code: str                 # stable id, e.g. "unknown-key", "invalid-key-name", "encoding-utf16-no-bom"
    message: str              # WSL's text (Resources.resw) with the file path filled in, or ours
    line: int | None = None   # 1-based line as WSL counts it; None for file-level warnings
    key: str | None = None    # "section.key" as written, when the warning is about a key
    source: str = "wsl"
    fatal: bool = False       # WSL refuses to start the VM (invalid wsl2.macAddress throws)


@dataclass
class DecodedConfig(_ToDict):
    """What WSL's C runtime (``_wfopen(path, "rt,ccs=UTF-8")``) makes of the bytes, and what a human sees."""

    encoding: str             # utf-8 | utf-8-bom | utf-16le-bom | utf-16be-bom | utf-16le-no-bom | utf-16be-no-bom | empty
    bom: bool
    size: int                 # bytes received (before the 64 KiB bound)
    truncated: bool           # only the first 64 KiB were examined
    sha256: str               # of the bytes received
    readable_by_wsl: bool     # False when WSL sees garbage or cannot open the file (no key can apply)
    wsl_text: str | None      # the character stream WSL's parser reads (None: WSL cannot open it)
    text: str                 # best human decoding (shown in reports)
    lines: list[dict[str, Any]] = field(default_factory=list)   # [{"n": 1, "text": "[wsl2]"}, ...]
    warnings: list[ParserWarning] = field(default_factory=list)


@dataclass
class Occurrence(_ToDict):
    name: str                 # "section.key" as written (case preserved), e.g. "experimental.networkingMode"
    section: str              # "" for keys before any section header
    line: int                 # WSL's line number (the last physical line of a continued value)
    start_line: int           # first physical line of the entry
    raw: str                  # value after WSL's processing (quotes removed, escapes applied, trimmed)


@dataclass
class KeySetting(_ToDict):
    """A recognised key: the first occurrence is the one WSL applies (even when its value is invalid)."""

    key: str                  # canonical name, e.g. "wsl2.networkingMode"
    name: str                 # as written, e.g. "experimental.networkingMode"
    section: str
    line: int
    start_line: int
    raw: str
    valid: bool               # the value parsed; False -> WSL warned and kept the default
    value: Any                # typed value when valid, else None (modes lower-case: "mirrored")
    default: Any              # WSL's default (None when machine dependent)
    effective: Any            # value if valid else default
    duplicates: list[Occurrence] = field(default_factory=list)   # later occurrences WSL ignored


@dataclass
class WslConfig(_ToDict):
    decoded: DecodedConfig
    path: str                                                     # path shown in WSL-style messages
    settings: dict[str, KeySetting] = field(default_factory=dict)  # canonical key -> setting
    unknown_keys: list[Occurrence] = field(default_factory=list)   # "Unknown key" entries (e.g. misplaced)
    warnings: list[ParserWarning] = field(default_factory=list)    # decode + parse warnings, in file order

    def get(self, key: str) -> KeySetting | None:
        """Setting by canonical or alias name, case-insensitively (``"experimental.firewall"`` works)."""
        from auditor.mirrored.wslconfig_keys import KEY_BY_NAME

        spec = KEY_BY_NAME.get(key.lower())
        return self.settings.get(spec.canonical) if spec else None

    @property
    def configured_mode(self) -> str | None:
        """networkingMode as the file sets it (lower-case), "invalid", or None when absent."""
        s = self.settings.get("wsl2.networkingMode")
        if s is None:
            return None
        return s.value if s.valid else "invalid"


@dataclass
class Adjustment(_ToDict):
    """One post-parse change WSL makes, in the order WSL makes it."""

    setting: str              # canonical key, e.g. "wsl2.networkingMode"
    before: Any
    after: Any
    reason: str               # why, in plain words, with the source of the rule
    stage: str                # "config" (Config::Initialize) or "vm-start" (WslCoreVm::ValidateNetworkingMode)
    wsl_message: str | None = None   # the warning WSL prints for it, if any (verbatim template)


@dataclass
class EffectiveSettings(_ToDict):
    configured_mode: str | None   # what the file says: mode, "invalid", or None (absent)
    mode: str                     # final mode: nat | mirrored | none | bridged | consomme | virtioproxy | disabled
    mode_source: str              # "file" | "default" | "policy" | "fallback"
    firewall: bool                # Hyper-V firewall
    dns_tunneling: bool
    auto_proxy: bool
    localhost_forwarding: bool
    host_address_loopback: bool
    ignored_ports: list[int]
    mirrored_support: Literal["supported", "likely", "unsupported", "unknown"]  # from the Windows build/UBR
    adjustments: list[Adjustment] = field(default_factory=list)
    wsl_warnings: list[str] = field(default_factory=list)   # runtime warnings WSL would print (beyond parsing)
    unknowns: list[str] = field(default_factory=list)       # inputs we lacked; the prediction assumed defaults
    blocked: str | None = None    # why no WSL VM can start at all (policy AllowWSL / AllowInboxWSL), else None
