"""A run's small JSON files, written whole: a crash never leaves half a file behind."""

from __future__ import annotations

import os
from pathlib import Path

import orjson


def write_json(path: Path, value: object) -> None:
    """Whole or not at all: a temporary file renamed over the old one."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2))
    os.replace(temporary, path)


def read_json(path: Path) -> object | None:
    """The file's value; None when it is missing or not whole JSON (the run is then skipped)."""
    try:
        value: object = orjson.loads(path.read_bytes())
        return value
    except (OSError, orjson.JSONDecodeError):
        return None
