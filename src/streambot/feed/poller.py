"""Prices from REST best bid/ask, for when the WebSocket cannot give them.

While the socket is down (or the user has stopped the stream) bots would otherwise judge on a
price that grows older by the second. One ``best_bid_ask`` request covers every product, so
polling every few seconds costs a sliver of the REST rate limit; the tickers go onto the price
board and the bus like streamed ones (``sequence`` -1 marks them), keeping the 24 h figures of the
last streamed tick since best bid/ask does not carry them.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence

from streambot.bus import Bus, PriceBoard
from streambot.clock import Clock
from streambot.domain import BestBidAsk, ProductId, Ticker
from streambot.exchange import ExchangeError

log = logging.getLogger(__name__)

PriceSource = Callable[[list[ProductId]], Awaitable[list[BestBidAsk]]]
"""``best_bid_ask(product_ids)``: typically ``CoinbaseRest.best_bid_ask``."""

POLLED_SEQUENCE = -1


def ticker_from_book(
    book: BestBidAsk, previous: Ticker | None, received_ns: int, now: float
) -> Ticker | None:
    """A Ticker for a best bid/ask, or None when the book is empty on both sides or not a price
    one may trade on (NaN, infinite, bid above ask).

    ``now`` (UNIX seconds) stands in for a book that carries no time."""
    if not (book.bid.is_finite() and book.ask.is_finite()):
        return None
    bid, ask = float(book.bid), float(book.ask)
    if not (math.isfinite(bid) and math.isfinite(ask)):  # beyond a float's range
        return None
    if bid > 0 and ask > 0:
        if bid > ask:
            return None
        price = (bid + ask) / 2
    elif bid > 0 or ask > 0:
        price = max(bid, ask)
    else:
        return None
    stamp = book.time.timestamp()
    return Ticker(
        product_id=book.product_id,
        price=price,
        best_bid=bid if bid > 0 else price,
        best_ask=ask if ask > 0 else price,
        volume_24h=previous.volume_24h if previous else 0.0,
        low_24h=min(previous.low_24h, price) if previous else price,
        high_24h=max(previous.high_24h, price) if previous else price,
        price_change_pct_24h=previous.price_change_pct_24h if previous else 0.0,
        time=stamp if stamp > 0 else now,
        received_ns=received_ns,
        sequence=POLLED_SEQUENCE,
    )


def _tradable_side(book: BestBidAsk) -> bool:
    """The book is not empty: a None from ``ticker_from_book`` then means it was invalid."""
    return bool(book.bid) or bool(book.ask)


class RestPricePoller:
    """Fetches best bid/ask for the products and publishes them as tickers."""

    def __init__(
        self,
        source: PriceSource,
        products: Sequence[ProductId],
        bus: Bus,
        *,
        board: PriceBoard,
        clock: Clock,
        interval: float = 5.0,
    ) -> None:
        if interval <= 0:
            raise ValueError("the REST poll interval must be positive")
        self._source = source
        self.products = list(products)
        self._bus = bus
        self._board = board
        self._clock = clock
        self.interval = interval
        self.polls = 0
        self.tickers_published = 0
        self.books_rejected = 0  # books that were not a valid price (NaN, infinite, crossed)

    async def poll_once(self, *, only_older_than_ns: int | None = None) -> int:
        """One request; publishes a ticker per product and returns how many.

        ``only_older_than_ns``: skip products whose latest ticker on the board arrived at or after
        this ``perf_counter_ns`` (the stream already gave a newer one).
        """
        self.polls += 1
        try:
            books = await self._source(self.products)
        except ExchangeError as exc:
            log.warning("REST price poll failed: %s", exc)
            return 0
        received = time.perf_counter_ns()
        now = self._clock.time()
        latest = self._board.latest
        published = 0
        for book in books:
            previous = latest.get(book.product_id)
            newer_streamed = (
                only_older_than_ns is not None
                and previous is not None
                and previous.received_ns >= only_older_than_ns
            )
            if newer_streamed:
                continue
            tick = ticker_from_book(book, previous, received, now)
            if tick is not None:
                self._board.record(tick)
                self._bus.publish_tick(tick)
                published += 1
            elif _tradable_side(book):
                self.books_rejected += 1
                log.warning("REST price for %s dropped: bid %s, ask %s", book.product_id, book.bid, book.ask)
        self.tickers_published += published
        return published

    async def run(self, *, first_delay: float, on_published: Callable[[], None]) -> None:
        """Poll every ``interval`` s after ``first_delay``, until cancelled."""
        clock = self._clock
        await clock.sleep(first_delay)
        while True:
            started = clock.monotonic()
            if await self.poll_once():
                on_published()
            await clock.sleep(max(0.0, self.interval - (clock.monotonic() - started)))
