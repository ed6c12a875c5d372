"""The playbook schema (pydantic). See docs/playbooks.md for the reference with a full example."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auditor.results import Severity

PLATFORMS = ("windows", "linux")
NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


def repeated(items: list[str]) -> list[str]:
    """The values that occur more than once, sorted (for "must be unique" errors)."""
    seen: set[str] = set()
    twice: set[str] = set()
    for item in items:
        (twice if item in seen else seen).add(item)
    return sorted(twice)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Collector(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    command: str | None = None
    script: str | None = None
    script_file: str | None = None
    parser: str = "raw"
    timeout: int = Field(default=60, ge=1, le=3600)
    opt_in: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "Collector":
        given = [k for k in ("command", "script", "script_file") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of command, script or script_file")
        return self

    @property
    def body(self) -> str:
        return self.command or self.script or ""


class Check(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    title: str
    description: str = ""
    severity: Severity = Severity.medium
    tags: list[str] = Field(default_factory=list)
    refs: list[str] = Field(default_factory=list)
    platforms: list[Literal["windows", "linux"]] | None = None
    opt_in: str | None = None
    applies_if: str | None = None
    when: str | None = None
    that: list[str] = Field(min_length=1)
    success_msg: str = "passed"
    fail_msg: str = "failed"
    evidence: dict[str, str] = Field(default_factory=dict)
    remediation: str | None = None

    @field_validator("that", mode="before")
    @classmethod
    def _that_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class PlayBase(_Strict):
    """What every play has, audit or remediation: which hosts, variables, what to gather and derive."""

    name: str
    hosts: str = Field(description="an Ansible host pattern, or a list of patterns (joined with ':', as Ansible does)")
    vars: dict[str, Any] = Field(default_factory=dict)
    gather: dict[Literal["windows", "linux"], list[Collector]] = Field(default_factory=dict)
    derive: list[str] = Field(default_factory=list)

    @field_validator("hosts", mode="before")
    @classmethod
    def _hosts_list(cls, value: Any) -> Any:
        if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
            return ":".join(v.strip() for v in value)
        return value

    @model_validator(mode="after")
    def _unique_collectors(self) -> "PlayBase":
        for platform, collectors in self.gather.items():
            dupes = repeated([c.name for c in collectors])
            if dupes:
                raise ValueError(f"collector names must be unique per platform; {platform} repeats {dupes}")
        return self


class Play(PlayBase):
    checks: list[Check] = Field(default_factory=list)
    verdict: str | None = None

    @model_validator(mode="after")
    def _unique_checks(self) -> "Play":
        dupes = repeated([c.id for c in self.checks])
        if dupes:
            raise ValueError(f"check ids must be unique in a play; repeated: {dupes}")
        return self


class Playbook(BaseModel):
    """A loaded playbook: its plays and where it came from."""

    model_config = ConfigDict(extra="forbid")
    path: str
    plays: list[Play]
    sha256: str | None = None  # digest of the file's bytes (recorded in the run)
