"""Ansible-compatible inventories: loaders, host patterns and connection variables."""

from auditor.inventory.loader import load_inventory
from auditor.inventory.model import Group, Host, Inventory

__all__ = ["Group", "Host", "Inventory", "load_inventory"]
