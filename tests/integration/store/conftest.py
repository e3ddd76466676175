"""The database fixtures of test_store.py, for every store test module."""

from tests.integration.store.test_store import database_url, store

__all__ = ["database_url", "store"]
