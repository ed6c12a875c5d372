"""Remediation modules: ``get_module(name)``, ``known_modules()``; each module file registers itself."""

from auditor.remediate.modules.base import (
    Module, ModuleArgs, ModuleContext, Outcome, get_module, known_modules, register_module,
)

__all__ = ["Module", "ModuleArgs", "ModuleContext", "Outcome", "get_module", "known_modules", "register_module"]
