"""The table ``make chaos`` ends with: one row per reliability test, its figures beside its name.

Reads the JSON lines the reliability tests (tests/chaos.py) and the soak run (bench/soak.py) append
to ``STREAMBOT_CHAOS_RESULTS``.
Run as ``python -m bench.chaos_table RESULTS_FILE``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def append_result(name: str, figures: dict[str, Any], *, long: bool) -> None:
    """One result as a JSON line in ``STREAMBOT_CHAOS_RESULTS``, if that is set."""
    results = os.environ.get("STREAMBOT_CHAOS_RESULTS")
    if results:
        with Path(results).open("a", encoding="utf-8") as out:
            out.write(json.dumps({"name": name, "long": long, "figures": figures}) + "\n")


def load(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{number}: not a JSON line ({exc})") from None
        if not isinstance(record, dict) or "name" not in record or "figures" not in record:
            raise SystemExit(f"{path}:{number}: expected an object with name and figures")
        rows.append(record)
    return rows


def _show(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def table(rows: list[dict[str, Any]]) -> Table:
    out = Table(title=f"Reliability suite: {len(rows)} results", title_justify="left")
    out.add_column("test")
    out.add_column("run")
    out.add_column("figures")
    for row in rows:
        figures = "  ".join(f"{k}={_show(v)}" for k, v in row["figures"].items())
        out.add_row(row["name"], "long" if row.get("long") else "short", figures)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.chaos_table RESULTS_FILE", file=sys.stderr)
        return 2
    path = Path(argv[0])
    if not path.exists():
        print(f"{path}: no results (did any reliability test run?)", file=sys.stderr)
        return 1
    Console(width=200).print(table(load(path)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
