"""Ansible-compatible inventories: loaders, host patterns and connection variables."""

from auditor.inventory.loader import load_inventory
from auditor.inventory.model import Group, Host, Inventory
from auditor.inventory.patterns import limit_hosts
from auditor.inventory.retry import write_retry_file

__all__ = ["Group", "Host", "Inventory", "limit_hosts", "load_inventory", "write_retry_file"]
