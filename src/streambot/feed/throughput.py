"""How many ticks a second the platform's feed client takes from a server: ``streambot bench feed``.

The client is built as the platform builds it (``ticker`` and ``heartbeats`` subscribed, ticks onto
the price board and the bus, where one tick mailbox, as an evaluator's, takes them) and consumes
until it has had ``frames`` ticks. The rate counts from just before it subscribes to the receive
time of the last tick, so the connection's setup is left out and the subscribe's round trip is in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from streambot.bus import InProcessBus, PriceBoard
from streambot.clock import SystemClock
from streambot.feed.client import FeedClient

POLL_S = 0.005  # how often the count is looked at; the rate's end is the last tick's own stamp

__all__ = ["FeedThroughput", "measure_feed"]


@dataclass(frozen=True, slots=True)
class FeedThroughput:
    url: str
    ticks: int
    seconds: float
    malformed: int
    sequence_gaps: int

    @property
    def ticks_per_s(self) -> float:
        return self.ticks / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "ticks_per_s": round(self.ticks_per_s, 1),
            "ticks": self.ticks,
            "seconds": round(self.seconds, 6),
            "url": self.url,
            "malformed": self.malformed,
            "sequence_gaps": self.sequence_gaps,
        }

    def line(self) -> str:
        return (
            f"streambot feed client: {self.ticks_per_s:,.0f} ticks/s ({self.ticks:,} ticks in "
            f"{self.seconds:.3f} s from {self.url}; malformed {self.malformed}, "
            f"sequence gaps {self.sequence_gaps})"
        )


async def measure_feed(
    url: str, products: Sequence[str], frames: int, *, wait_s: float = 120.0
) -> FeedThroughput:
    """Consume ``frames`` ticks from ``url`` through the platform's feed client. Raises
    ``TimeoutError`` naming how far it got when they do not come within ``wait_s`` s."""
    clock = SystemClock()
    bus = InProcessBus(clock)
    board = PriceBoard()
    mailbox = bus.tick_mailbox("bench", urgent=True)
    client = FeedClient(url, products, bus, board=board, clock=clock, channels=("ticker", "heartbeats"))
    task = asyncio.create_task(client.run(), name="bench-feed")
    deadline = clock.monotonic() + wait_s
    try:
        while client.tickers < frames:
            if task.done():
                task.result()
                raise RuntimeError(f"the feed client stopped after {client.tickers} ticks")
            if clock.monotonic() > deadline:
                raise TimeoutError(
                    f"{client.tickers} of {frames} ticks from {url} within {wait_s:g}s "
                    f"(feed {client.state}: {client.status().last_error or 'no error'})"
                )
            await asyncio.sleep(POLL_S)
            while mailbox.get_nowait() is not None:  # its consumer keeps up
                pass
        last_ns = max(tick.received_ns for tick in board.latest.values())
        return FeedThroughput(
            url=url,
            ticks=client.tickers,
            seconds=(last_ns - client.connected_ns) / 1e9,
            malformed=client.malformed,
            sequence_gaps=client.sequence_gaps,
        )
    finally:
        await client.stop()
        await task
