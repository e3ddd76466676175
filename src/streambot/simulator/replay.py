"""Replay recorded prices into the simulator's market.

The file holds one JSON object per line, either a flat tick
``{"time": 1767225600.5, "product_id": "BTC-USD", "price": "97000.01", "best_bid": "97000",
"best_ask": "97000.02"}``
(``time`` in UNIX seconds or RFC 3339) or a Coinbase ``ticker`` frame exactly as the WebSocket
sent it, so a capture of the live feed replays as is. Spacing between ticks is kept (divided by
``speed``); at the end the recording starts over when ``loop`` is set. Products of the recording
stop their synthetic walk; the others keep walking.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from streambot.clock import Clock
from streambot.simulator.market import SimMarket
from streambot.simulator.wire import parse_rfc3339

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordedTick:
    time: float
    product_id: str
    price: str
    best_bid: str
    best_ask: str


class RecordingError(ValueError):
    """A recording line that is neither a tick nor a ticker frame (names the line)."""


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return parse_rfc3339(value).timestamp()
        except ValueError:
            pass
    raise RecordingError(f"{where}: time {value!r} is neither UNIX seconds nor RFC 3339")


def _ticks(line: dict[str, Any], where: str) -> Iterator[RecordedTick]:
    if "events" in line:
        if line.get("channel") not in ("ticker", "ticker_batch"):
            return
        when = _seconds(line.get("timestamp"), where)
        for event in line["events"]:
            for item in event.get("tickers", ()):
                price = str(item["price"])
                yield RecordedTick(
                    when,
                    str(item["product_id"]),
                    price,
                    str(item.get("best_bid") or price),
                    str(item.get("best_ask") or price),
                )
        return
    try:
        price = str(line["price"])
        yield RecordedTick(
            _seconds(line["time"], where),
            str(line["product_id"]),
            price,
            str(line.get("best_bid") or price),
            str(line.get("best_ask") or price),
        )
    except KeyError as exc:
        raise RecordingError(f"{where}: missing {exc.args[0]!r}") from None


def load_recording(path: Path) -> list[RecordedTick]:
    ticks: list[RecordedTick] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise RecordingError(f"{where}: not JSON ({exc})") from None
            if not isinstance(line, dict):
                raise RecordingError(f"{where}: expected a JSON object")
            ticks.extend(_ticks(line, where))
    if not ticks:
        raise RecordingError(f"{path} holds no ticks")
    ticks.sort(key=lambda t: t.time)
    return ticks


async def replay_prices(
    market: SimMarket, ticks: list[RecordedTick], speed: float, loop: bool, *, clock: Clock
) -> None:
    """Feed ``ticks`` to the market at their recorded pace until cancelled (or the end, unless loop)."""
    unknown = sorted({t.product_id for t in ticks if t.product_id not in market})
    if unknown:
        log.warning("Recorded prices for %s ignored: not simulated products", ", ".join(unknown))
    while True:
        started, first = clock.monotonic(), ticks[0].time
        for tick in ticks:
            delay = (tick.time - first) / speed - (clock.monotonic() - started)
            if delay > 0:
                await clock.sleep(delay)
            if tick.product_id in market:
                try:
                    market.apply_external_tick(tick.product_id, tick.price, tick.best_bid, tick.best_ask)
                except ValueError as exc:
                    log.warning("Recorded tick skipped: %s", exc)
        if not loop:
            log.info("Recorded prices replayed to the end")
            return
        # A pause between rounds, so a short recording does not spin the loop.
        await clock.sleep(1.0 / speed)
