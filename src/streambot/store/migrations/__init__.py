"""Alembic environment of the store; a package so that setuptools ships it in the wheel."""
