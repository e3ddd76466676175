"""What the reliability tests share: how long they run, and how they report their figures.

Every reliability test proves one thing under a fault and prints the figures that show it, as one
line ``CHAOS <name>: key=value …``; pytest's summary repeats them (tests/conftest.py), and when
``STREAMBOT_CHAOS_RESULTS`` names a file each line is appended there as JSON too, so ``make chaos``
ends with a table of them (bench/chaos_table.py).

The short version of each test runs in ``make test`` (CI); ``STREAMBOT_CHAOS_LONG=1`` (set by
``make chaos``) runs the long one: more kills, more frames, more trials.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import aiohttp
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


# --- what the crash and cluster tests check after a kill -----------------------------------------

# Quotients carry 28 significant digits, so sums in another order may differ far below a satoshi.
POSITION_TOLERANCE = Decimal("1e-18")


async def sigkill(proc: asyncio.subprocess.Process) -> None:
    """Kill a process the hard way (no cleanup of any kind runs) and reap it."""
    proc.send_signal(signal.SIGKILL)
    await proc.wait()


async def exchange_pages(http: aiohttp.ClientSession, url: str, key: str) -> list[dict[str, Any]]:
    """Every item of a paged simulator listing (``url`` is e.g. …/orders/historical/fills)."""
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        params = {"limit": "1000"} | ({"cursor": cursor} if cursor else {})
        async with http.get(url, params=params) as response:
            assert response.status == 200, await response.text()
            body = await response.json()
        items += body[key]
        cursor = body.get("cursor") or ""
        if not cursor or not body.get("has_next", True):
            return items


def duplicates(client_order_ids: Iterable[str]) -> list[str]:
    """The client_order_ids that reached the exchange more than once (must be none)."""
    return [c for c, n in Counter(client_order_ids).items() if n > 1]


def fill_base(fill: Mapping[str, Any]) -> Decimal:
    """A fill's size in the base currency, as the platform reads it (quote-sized: size / price)."""
    size = Decimal(fill["size"])
    return size / Decimal(fill["price"]) if fill.get("size_in_quote") else size


def held_by_fills(fills: Iterable[Mapping[str, Any]], bot_of: Mapping[str, int]) -> dict[int, Decimal]:
    """Each bot's position as the exchange's fills summed (``bot_of``: exchange order id -> bot)."""
    held: dict[int, Decimal] = {}
    for fill in fills:
        bot_id = bot_of[fill["order_id"]]
        size = fill_base(fill)
        held[bot_id] = held.get(bot_id, Decimal(0)) + (size if fill["side"] == "BUY" else -size)
    return held


def oversold(fills: Iterable[Mapping[str, Any]], bot_of: Mapping[str, int]) -> dict[int, Decimal]:
    """Bots that sold more than they held at the exchange at some point, with how far below zero
    (fills taken in trade order): a sell repeated after a hand-over or a lost booking."""
    held: dict[int, Decimal] = {}
    worst_below: dict[int, Decimal] = {}
    for fill in sorted(fills, key=lambda f: str(f.get("trade_time", ""))):
        bot_id = bot_of[fill["order_id"]]
        size = fill_base(fill)
        held[bot_id] = held.get(bot_id, Decimal(0)) + (size if fill["side"] == "BUY" else -size)
        if held[bot_id] < -POSITION_TOLERANCE:
            worst_below[bot_id] = min(worst_below.get(bot_id, Decimal(0)), held[bot_id])
    return worst_below


def position_diffs(positions: Mapping[int, Decimal], held: Mapping[int, Decimal]) -> dict[int, Decimal]:
    """Per bot, our position minus the exchange's fills summed (a bot in either counts)."""
    return {
        bot_id: positions.get(bot_id, Decimal(0)) - held.get(bot_id, Decimal(0))
        for bot_id in set(positions) | set(held)
    }


def worst(diffs: Mapping[Any, Decimal]) -> Decimal:
    return max((abs(d) for d in diffs.values()), default=Decimal(0))


def assert_positions_are_fills(positions: Mapping[int, Decimal], held: Mapping[int, Decimal]) -> Decimal:
    """Every bot's position is its fills at the exchange, summed; returns the worst difference."""
    diffs = position_diffs(positions, held)
    off = {bot_id: diff for bot_id, diff in diffs.items() if abs(diff) >= POSITION_TOLERANCE}
    assert not off, f"positions differ from the exchange's fills summed: {off} (ours {dict(positions)})"
    return worst(diffs)
