"""Exchange candles for warm-up, fetched once per product and timeframe however many bots start.

A bot that needs fifty 1-minute candles before its indicators are ready would otherwise trade
an hour after it starts. At start-up a hundred bots on one product ask at once; they share one
request (and its pages) instead of sending a hundred.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from streambot.clock import Clock
from streambot.domain import Candle, ProductId, Timeframe
from streambot.strategies.base import WarmUpRequest

log = logging.getLogger(__name__)

CandleFetcher = Callable[[ProductId, Timeframe, int, int], Awaitable[Sequence[Candle]]]
"""``fetch(product_id, timeframe, start, end)``: the exchange's candles in ``[start, end)``,
however many requests that takes (the exchange client pages them)."""


@dataclass(slots=True)
class _Cached:
    fetched_at: float
    count: int
    candles: list[Candle]


class CandleHistory:
    """Closed candles from the exchange, oldest first; shared and briefly cached."""

    def __init__(
        self,
        fetch: CandleFetcher,
        clock: Clock,
        *,
        max_age: float = 30.0,
        timeout: float = 10.0,
    ) -> None:
        self._fetch = fetch
        self._max_age = max_age
        self._timeout = timeout
        self._clock = clock
        self._cache: dict[tuple[ProductId, Timeframe], _Cached] = {}
        # The request under way per key, with how many candles it asks for.
        self._in_flight: dict[tuple[ProductId, Timeframe], tuple[int, asyncio.Task[_Cached]]] = {}

    async def closed_candles(self, product_id: ProductId, request: WarmUpRequest) -> list[Candle]:
        key = (product_id, Timeframe(request.timeframe))
        now = self._clock.time()
        cached = self._cache.get(key)
        if cached is None or cached.count < request.candles or now - cached.fetched_at > self._max_age:
            in_flight = self._in_flight.get(key)
            if in_flight is None or in_flight[0] < request.candles:
                task = asyncio.create_task(self._load(product_id, request, now))
                in_flight = (request.candles, task)
                self._in_flight[key] = in_flight
                task.add_done_callback(lambda done: self._forget(key, done))
            cached = await asyncio.shield(in_flight[1])
            if cached.count >= request.candles:
                self._cache[key] = cached
        return cached.candles[-request.candles :]

    def _forget(self, key: tuple[ProductId, Timeframe], done: asyncio.Task[_Cached]) -> None:
        in_flight = self._in_flight.get(key)
        if in_flight is not None and in_flight[1] is done:
            del self._in_flight[key]

    async def _load(self, product_id: ProductId, request: WarmUpRequest, now: float) -> _Cached:
        timeframe = Timeframe(request.timeframe)  # a user strategy may have given its name
        seconds = timeframe.seconds
        # The interval under way is not a closed candle: history ends where it began.
        end = int(now) // seconds * seconds
        start = end - request.candles * seconds
        async with asyncio.timeout(self._timeout):
            fetched = await self._fetch(product_id, timeframe, start, end)
        candles = {c.start: c for c in fetched if start <= c.start and c.start + seconds <= end}
        ordered = [candles[at] for at in sorted(candles)]
        log.debug("📈 Warm-up history for %s: %d %s candles", product_id, len(ordered), timeframe)
        return _Cached(fetched_at=now, count=request.candles, candles=ordered)
