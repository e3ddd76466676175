"""How fast the feed heals, measured against the simulator's fault injection on loopback.

- reconnect-to-ticking: from the moment every socket is dropped to the first *streamed* ticker
  (not a REST-refreshed one) on the new connection; target: median ≤ 2 s.
- stale detection: the age of the last frame when the feed declares itself stale after the
  simulator goes silent (heartbeats every second, ``stale_after`` 3 s); target: ≤ 3.5 s.

Run with ``streambot bench --only feed`` or ``python -m bench.feed``.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from streambot.bus import InProcessBus, PriceBoard
from streambot.clock import SystemClock
from streambot.domain import FeedState
from streambot.events import FeedStateChanged
from streambot.feed.client import FeedClient
from streambot.simulator.server import Simulator, SimulatorConfig
from streambot.venues.coinbase.client import CoinbaseRest

PRODUCTS = ("BTC-USD", "ETH-USD", "SOL-USD")
WAIT_S = 30.0


@dataclass(frozen=True, slots=True)
class FeedFigures:
    reconnect_to_ticking_s: list[float]
    stale_detected_after_s: list[float]

    @staticmethod
    def _summary(values: list[float]) -> str:
        if not values:
            return "no samples"
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        return (
            f"median {statistics.median(ordered):.3f}s  p90 {p90:.3f}s  "
            f"min {ordered[0]:.3f}s  max {ordered[-1]:.3f}s  (n={len(ordered)})"
        )

    def report(self) -> str:
        return "\n".join(
            (
                "Feed resilience (simulator on loopback, heartbeats every 1 s, stale_after 3 s)",
                f"  reconnect → ticking after a drop: {self._summary(self.reconnect_to_ticking_s)}"
                "   target: median ≤ 2 s",
                f"  stale detected after last frame:  {self._summary(self.stale_detected_after_s)}"
                "   target: ≤ 3.5 s",
            )
        )


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"feed bench: timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def measure(drops: int = 15, silences: int = 4) -> FeedFigures:
    sim = Simulator(SimulatorConfig(products=PRODUCTS, seed=1))
    await sim.start("127.0.0.1", 0)
    clock = SystemClock()
    bus = InProcessBus(clock)
    stale_ages: list[float] = []
    reconnect_times: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            rest = CoinbaseRest(sim.rest_url, clock=SystemClock(), session=session)
            client = FeedClient(
                sim.ws_url,
                PRODUCTS,
                bus,
                board=PriceBoard(),
                clock=clock,
                prices=rest.best_bid_ask,
            )

            def on_state(event: FeedStateChanged) -> None:
                if event.state is FeedState.STALE:
                    age = client.status().last_message_age_s
                    if age is not None:
                        stale_ages.append(age)

            bus.subscribe(FeedStateChanged, on_state)
            mailbox = bus.tick_mailbox("feed-bench")
            task = asyncio.create_task(client.run())
            try:
                await _until(lambda: client.state == "live" and client.tickers > 0, "the feed to go live")
                for _ in range(drops):
                    await asyncio.sleep(0.3)  # let the connection settle
                    while mailbox.get_nowait() is not None:
                        pass
                    dropped_ns = time.perf_counter_ns()
                    sim.faults.inject("drop_connections")
                    while True:
                        tick = await asyncio.wait_for(mailbox.get(), WAIT_S)
                        streamed = tick.sequence >= 0
                        if (
                            streamed
                            and client.connected_ns > dropped_ns
                            and tick.received_ns > client.connected_ns
                        ):
                            reconnect_times.append((tick.received_ns - dropped_ns) / 1e9)
                            break
                for _ in range(silences):
                    await _until(lambda: client.state == "live", "live before a silence")
                    wanted = len(stale_ages) + 1
                    sim.faults.inject("silence", seconds=3.6)
                    await _until(lambda: len(stale_ages) >= wanted, "stale detection")  # noqa: B023
                    await _until(lambda: not sim.faults.silenced(), "the silence to end")
                await _until(lambda: client.state == "live", "live at the end")
            finally:
                await client.stop()
                await task
                await rest.close()
    finally:
        await sim.stop()
    return FeedFigures(reconnect_times, stale_ages)


def print_feed_benchmarks(drops: int = 15, silences: int = 4) -> FeedFigures:
    # The feed logs every reconnect at INFO; the figures are what matters here.
    logging.getLogger("streambot").setLevel(logging.ERROR)
    figures = asyncio.run(measure(drops, silences))
    print(figures.report())
    return figures


if __name__ == "__main__":
    print_feed_benchmarks()
