"""Time comes from the Clock a part was built with: nothing in ``src/`` but ``clock.py`` reads the
machine's wall or monotonic clock itself. (``perf_counter`` measures code, not time, and stays.)"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "streambot"
READS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "monotonic_ns"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
}


def _reads(tree: ast.AST) -> list[int]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and (owner.id, node.func.attr) in READS:
                found.append(node.lineno)
    return found


def test_no_part_reads_the_machines_clock_itself() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "clock.py" or path.parent != SRC
        for line in _reads(ast.parse(path.read_text(), str(path)))
    ]
    assert offenders == [], f"read the time from the part's Clock instead: {offenders}"


def test_the_check_finds_a_direct_read() -> None:
    assert _reads(ast.parse("import time\ndeadline = time.monotonic() + 5\n")) == [2]
    assert _reads(ast.parse("from datetime import datetime\nstamp = datetime.now()\n")) == [2]
