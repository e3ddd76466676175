"""What the reliability tests share: how long they run, and how they report their figures.

Every reliability test proves one thing under a fault and prints the figures that show it, as one
line ``CHAOS <name>: key=value …``; pytest's summary repeats them (tests/conftest.py), and when
``STREAMBOT_CHAOS_RESULTS`` names a file each line is appended there as JSON too, so ``make chaos``
ends with a table of them (bench/chaos_table.py).

The short version of each test runs in ``make test`` (CI); ``STREAMBOT_CHAOS_LONG=1`` (set by
``make chaos``) runs the long one: more kills, more frames, more trials.
"""

from __future__ import annotations

import os

from bench.chaos_table import append_result

LONG = os.environ.get("STREAMBOT_CHAOS_LONG", "") not in {"", "0", "false"}

Figure = int | float | str | bool

reported: list[str] = []
"""The lines printed in this pytest run, for the terminal summary."""


def scale(short: int, long: int) -> int:
    """How many (kills, trials, frames…): ``short`` in CI, ``long`` in ``make chaos``."""
    return long if LONG else short


def report(name: str, **figures: Figure) -> None:
    """Print one test's figures and append them to the results file, if one is set."""
    shown = " ".join(f"{key}={_show(value)}" for key, value in figures.items())
    line = f"CHAOS {name}: {shown}"
    print(line)
    reported.append(line)
    append_result(name, dict(figures), long=LONG)


def _show(value: Figure) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
