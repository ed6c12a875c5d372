"""Alembic migrations of the store, run programmatically by ``auditor.store.migrate`` (no ``alembic`` CLI needed)."""
