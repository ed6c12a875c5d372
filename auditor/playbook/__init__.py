"""Playbooks: schema, loader (file:line in every error) and sandboxed expressions."""

from auditor.playbook.loader import load_playbook, load_playbooks
from auditor.playbook.schema import Check, Collector, Play, Playbook

__all__ = ["Check", "Collector", "Play", "Playbook", "load_playbook", "load_playbooks"]
