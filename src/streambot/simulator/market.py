"""The simulator's market: one price per product that moves by itself or follows a real feed.

Each product has its own level, volatility and tick rate and walks geometrically (log price with
a weak pull back to its starting level, so a long paper session stays near realistic levels).
Best bid/ask sit a few basis points around the mid on the product's quote increment; each tick is
one trade at the bid or the ask. Minute candles (backfilled for the first 24 h so bots can warm
up and the 24 h figures mean something) are kept in a bounded buffer; the rolling 24 h
open/high/low/volume and the coarser candles are derived from them.

No I/O and no timers here: callers pass ``now`` (UNIX seconds) and the server schedules ticks.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Final

import numpy as np

from streambot.clock import Clock
from streambot.domain import Product, to_decimal
from streambot.simulator.history import SeededHistory

log = logging.getLogger(__name__)

SECONDS_PER_DAY: Final = 86_400
MINUTE: Final = 60
HISTORY_MINUTES: Final = 3 * 1440  # bound of the candle buffer (3 days of minutes)
BACKFILL_MINUTES: Final = 1440  # of the seeded history, in the buffer for the 24 h figures
TRADE_HISTORY: Final = 200
MEAN_REVERSION_HALF_LIFE_S: Final = 3 * SECONDS_PER_DAY
PERCENT_QUANTUM: Final = Decimal("0.00000001")

Number = Decimal | float | int | str


def power_of_ten(exponent: int) -> Decimal:
    """10**exponent written out (``0.00000001``, not ``1E-8``)."""
    return Decimal(format(Decimal(10) ** exponent, "f"))


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """How one product behaves and which trading rules it has."""

    product_id: str
    base_currency: str
    quote_currency: str
    base_name: str
    quote_name: str
    price: Decimal  # starting level
    daily_volatility: float  # standard deviation of the daily log return
    tick_rate: float  # ticks per second before ``tick_rate_scale``
    spread_bps: float
    top_of_book_notional: float  # typical quote value resting at the best bid / ask
    daily_volume: float  # base units traded per day
    base_increment: Decimal
    quote_increment: Decimal
    base_min_size: Decimal
    base_max_size: Decimal
    quote_min_size: Decimal
    quote_max_size: Decimal

    def product(self) -> Product:
        return Product(
            product_id=self.product_id,
            base_currency=self.base_currency,
            quote_currency=self.quote_currency,
            base_increment=self.base_increment,
            quote_increment=self.quote_increment,
            base_min_size=self.base_min_size,
            base_max_size=self.base_max_size,
            quote_min_size=self.quote_min_size,
            quote_max_size=self.quote_max_size,
        )


@dataclass(frozen=True, slots=True)
class _Known:
    name: str
    price: str
    volatility: float
    tick_rate: float
    spread_bps: float
    top_notional: float
    daily_volume_usd: float
    base_increment: str
    quote_increment: str
    base_min_size: str
    base_max_size: str
    quote_max_size: str


# Late-2026 levels against USD with Coinbase-like rules. Columns: name, price, daily volatility,
# ticks/s, spread bps, top-of-book USD, daily USD volume, base increment, quote increment,
# base min size, base max size, quote max size (quote min size is 1 USD throughout).
# fmt: off
_KNOWN: Final[dict[str, _Known]] = {
    "BTC": _Known("Bitcoin", "97000", 0.025, 5.0, 0.2, 40_000, 1.2e9,
                  "0.00000001", "0.01", "0.00000001", "3400", "150000000"),
    "ETH": _Known("Ethereum", "3600", 0.035, 4.0, 0.5, 30_000, 6.5e8,
                  "0.00000001", "0.01", "0.00000001", "42000", "100000000"),
    "SOL": _Known("Solana", "180", 0.045, 3.0, 1.0, 20_000, 4.5e8,
                  "0.00000001", "0.01", "0.00000001", "125000", "25000000"),
    "XRP": _Known("XRP", "2.3", 0.045, 3.0, 2.0, 15_000, 3e8,
                  "0.000001", "0.0001", "0.000001", "5000000", "25000000"),
    "DOGE": _Known("Dogecoin", "0.2", 0.055, 2.0, 3.0, 10_000, 1.2e8,
                   "0.1", "0.00001", "0.1", "30000000", "10000000"),
    "BONK": _Known("Bonk", "0.00002", 0.08, 1.0, 5.0, 5_000, 4e7,
                   "1", "0.00000001", "1", "500000000000", "5000000"),
    "AVNT": _Known("Avantis", "0.83", 0.09, 1.0, 6.0, 3_000, 1.5e7,
                   "0.1", "0.0001", "0.1", "10000000", "2500000"),
    "MOODENG": _Known("Moo Deng", "0.12", 0.10, 1.0, 6.0, 3_000, 2e7,
                      "0.1", "0.00001", "0.1", "50000000", "2500000"),
}
# fmt: on
_QUOTE_NAMES: Final = {
    "USD": "US Dollar",
    "USDC": "USDC",
    "USDT": "Tether",
    "EUR": "Euro",
    "GBP": "British Pound",
}
_USD_LIKE: Final = frozenset({"USD", "USDC", "USDT"})
_GENERIC_LEVEL: Final = Decimal(1)


def _usd_level(currency: str) -> Decimal | None:
    if currency in _USD_LIKE:
        return Decimal(1)
    known = _KNOWN.get(currency)
    return Decimal(known.price) if known else None


def spec_for(product_id: str) -> ProductSpec:
    """Rules and behaviour of a product: the table for the well-known ones, derived for the rest."""
    base, sep, quote = product_id.partition("-")
    if not (sep and base and quote):
        raise ValueError(f"{product_id!r} is not of the form BASE-QUOTE")
    known = _KNOWN.get(base)
    quote_name = _QUOTE_NAMES.get(quote, quote)
    if known is not None and quote in _USD_LIKE:
        return ProductSpec(
            product_id=product_id,
            base_currency=base,
            quote_currency=quote,
            base_name=known.name,
            quote_name=quote_name,
            price=Decimal(known.price),
            daily_volatility=known.volatility,
            tick_rate=known.tick_rate,
            spread_bps=known.spread_bps,
            top_of_book_notional=known.top_notional,
            daily_volume=known.daily_volume_usd / float(known.price),
            base_increment=Decimal(known.base_increment),
            quote_increment=Decimal(known.quote_increment),
            base_min_size=Decimal(known.base_min_size),
            base_max_size=Decimal(known.base_max_size),
            quote_min_size=Decimal(1),
            quote_max_size=Decimal(known.quote_max_size),
        )
    base_usd, quote_usd = _usd_level(base), _usd_level(quote)
    quote_usd = quote_usd or Decimal(1)
    level = base_usd / quote_usd if base_usd is not None else _GENERIC_LEVEL
    level_f = float(level)
    quote_increment = power_of_ten(max(-8, math.floor(math.log10(level_f)) - 4))
    level = level.quantize(quote_increment, rounding=ROUND_DOWN) or quote_increment
    # A base increment worth about a cent keeps sizes expressible without absurd precision.
    base_increment = power_of_ten(min(0, max(-8, math.floor(math.log10(0.01 / float(base_usd or level))))))
    quote_min = power_of_ten(round(math.log10(1 / float(quote_usd))))
    return ProductSpec(
        product_id=product_id,
        base_currency=base,
        quote_currency=quote,
        base_name=known.name if known else base,
        quote_name=quote_name,
        price=level,
        daily_volatility=known.volatility if known else 0.05,
        tick_rate=1.0,
        spread_bps=5.0,
        top_of_book_notional=5_000 / float(quote_usd),
        daily_volume=5e6 / float(base_usd or level),
        base_increment=base_increment,
        quote_increment=quote_increment,
        base_min_size=base_increment,
        base_max_size=(Decimal(10_000_000) / (level or Decimal(1))).quantize(Decimal(1)) or Decimal(1),
        quote_min_size=quote_min,
        quote_max_size=quote_min * 10_000_000,
    )


# Inside, prices are whole numbers of the product's quote increment and sizes whole numbers of its
# base increment (exact, cheap to compare and add); the walk itself is floats. Decimals are made
# only when a tick, trade or candle is read (the wire, the paper account).


def _units(value: Decimal, increment: Decimal) -> int:
    """``value`` in whole increments (to the nearest, as the wire rounds it)."""
    return int((value / increment).to_integral_value())


@dataclass(slots=True)
class MinuteCandle:
    """One minute of a product's market, in increments (prices: quote, volume: base)."""

    start: int  # UNIX seconds, a multiple of 60
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(frozen=True, slots=True)
class MarketCandle:
    start: int
    low: Decimal
    high: Decimal
    open: Decimal
    close: Decimal
    volume: Decimal


class MarketTrade:
    """One trade of the walk. Price and size are kept in increments and read as Decimals."""

    __slots__ = ("_base", "_price", "_quote", "_seq", "_size", "product_id", "side", "time")

    def __init__(
        self,
        seq: int,
        product_id: str,
        price_units: int,
        size_units: int,
        side: str,  # the maker's side, as Coinbase reports it
        time: float,
        quote_increment: Decimal,
        base_increment: Decimal,
    ) -> None:
        self._seq = seq
        self.product_id = product_id
        self._price = price_units
        self._size = size_units
        self.side = side
        self.time = time
        self._quote = quote_increment
        self._base = base_increment

    @property
    def trade_id(self) -> str:
        return str(self._seq)

    @property
    def price(self) -> Decimal:
        return self._quote * self._price

    @property
    def size(self) -> Decimal:
        return self._base * self._size

    def _key(self) -> tuple[object, ...]:
        return (self._seq, self.product_id, self.price, self.size, self.side, self.time)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MarketTrade) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"MarketTrade(trade_id={self.trade_id!r}, product_id={self.product_id!r}, price={self.price}, "
            f"size={self.size}, side={self.side!r}, time={self.time})"
        )


# Positions in a tick's tuple of increments.
_PRICE, _BID, _BID_QTY, _ASK, _ASK_QTY, _VOLUME, _OPEN, _HIGH, _LOW, _HIGH_52W, _LOW_52W = range(11)


class MarketTick:
    """The market of one product right after a tick. Every figure is read as an exact Decimal."""

    __slots__ = ("_base", "_quote", "_u", "product_id", "time", "trade")

    def __init__(
        self,
        product_id: str,
        time: float,  # UNIX seconds
        trade: MarketTrade | None,
        quote_increment: Decimal,
        base_increment: Decimal,
        units: tuple[int, int, int, int, int, int, int, int, int, int, int],
    ) -> None:
        self.product_id = product_id
        self.time = time
        self.trade = trade
        self._quote = quote_increment
        self._base = base_increment
        # price, bid, bid qty, ask, ask qty, 24 h volume, open, high, low, 52 w high, 52 w low
        self._u = units

    @property
    def price(self) -> Decimal:
        return self._quote * self._u[_PRICE]

    @property
    def best_bid(self) -> Decimal:
        return self._quote * self._u[_BID]

    @property
    def best_bid_quantity(self) -> Decimal:
        return self._base * self._u[_BID_QTY]

    @property
    def best_ask(self) -> Decimal:
        return self._quote * self._u[_ASK]

    @property
    def best_ask_quantity(self) -> Decimal:
        return self._base * self._u[_ASK_QTY]

    @property
    def volume_24h(self) -> Decimal:
        return self._base * self._u[_VOLUME]

    @property
    def open_24h(self) -> Decimal:
        return self._quote * self._u[_OPEN]

    @property
    def high_24h(self) -> Decimal:
        return self._quote * self._u[_HIGH]

    @property
    def low_24h(self) -> Decimal:
        return self._quote * self._u[_LOW]

    @property
    def high_52w(self) -> Decimal:
        return self._quote * self._u[_HIGH_52W]

    @property
    def low_52w(self) -> Decimal:
        return self._quote * self._u[_LOW_52W]

    @property
    def price_percent_change_24h(self) -> Decimal:
        if not self._u[_OPEN]:
            return Decimal(0)
        return ((self.price - self.open_24h) * 100 / self.open_24h).quantize(PERCENT_QUANTUM)

    @property
    def mid(self) -> Decimal:
        return (self.best_bid + self.best_ask) / 2

    def _key(self) -> tuple[object, ...]:
        return (self.product_id, self.time, self.trade, self._quote, self._base, self._u)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MarketTick) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"MarketTick(product_id={self.product_id!r}, price={self.price}, best_bid={self.best_bid}, "
            f"best_ask={self.best_ask}, time={self.time}, trade={self.trade!r})"
        )


DRAW_BLOCK: Final = 2048  # ticks of random draws made at once (numpy), per product
_SIZE_SIGMA: Final = 0.8  # lognormal spread of the quantity resting at the touch

# One tick of the walk: price, bid, bid quantity, ask, ask quantity, trade size (all in increments)
# and the trade's maker side.
_Draw = tuple[int, int, int, int, int, int, str]


class _ProductState:
    __slots__ = (
        "ask",
        "ask_qty",
        "base",
        "base_f",
        "bid",
        "bid_qty",
        "book_rng",
        "draws",
        "external",
        "generator",
        "half_increment",
        "half_spread",
        "high_52w",
        "last",
        "log_anchor",
        "log_mid",
        "low_52w",
        "minutes",
        "price",
        "quote",
        "quote_f",
        "rng",
        "sigma",
        "spec",
        "theta",
        "trade_seq",
        "trades",
        "window",
        "window_highs",
        "window_lows",
        "window_volume",
    )

    def __init__(
        self,
        spec: ProductSpec,
        rng: random.Random,
        book_rng: random.Random,
        generator: np.random.Generator,
    ) -> None:
        self.spec = spec
        self.rng = rng
        self.book_rng = book_rng
        self.generator = generator
        self.draws: Iterator[_Draw] = iter(())
        self.external = False
        self.quote = spec.quote_increment
        self.base = spec.base_increment
        self.quote_f = float(spec.quote_increment)
        self.base_f = float(spec.base_increment)
        self.half_increment = self.quote_f / 2
        self.half_spread = spec.spread_bps / 20_000
        self.log_mid = math.log(float(spec.price))
        self.log_anchor = self.log_mid
        self.sigma = spec.daily_volatility / math.sqrt(SECONDS_PER_DAY * spec.tick_rate)
        self.theta = math.log(2) / (MEAN_REVERSION_HALF_LIFE_S * spec.tick_rate)
        level = max(1, _units(spec.price, self.quote))
        self.price = level
        self.bid = level
        self.ask = level
        self.bid_qty = 1
        self.ask_qty = 1
        self.minutes: deque[MinuteCandle] = deque(maxlen=HISTORY_MINUTES)
        self.trades: deque[MarketTrade] = deque(maxlen=TRADE_HISTORY)
        self.trade_seq = 0
        # The 52-week range is wider than a day's; a fixed band around the level stands in for it.
        high = (spec.price * Decimal("1.31")).quantize(spec.quote_increment, rounding=ROUND_CEILING)
        low = (spec.price * Decimal("0.58")).quantize(spec.quote_increment, rounding=ROUND_FLOOR)
        self.high_52w = _units(high, self.quote)
        self.low_52w = _units(low, self.quote)
        # Completed minutes of the rolling 24 h, plus monotonic queues of their highs and lows
        # so the window's extremes cost O(1) per minute instead of a rescan.
        self.window: deque[MinuteCandle] = deque()
        self.window_highs: deque[MinuteCandle] = deque()
        self.window_lows: deque[MinuteCandle] = deque()
        self.window_volume = 0
        self.last: MarketTick | None = None

    def draw_block(self) -> _Draw:
        """Walk ``DRAW_BLOCK`` ticks ahead at once (numpy) and return the first of them.

        The log mid follows ``x' = x - theta (x - anchor) + sigma z``, solved in closed form over
        the block; best bid/ask sit on the quote increment a few basis points around the mid, the
        quantities at the touch and the trade size are whole base increments (at least one).
        ``log_mid`` moves to where the block ends."""
        spec, generator, n = self.spec, self.generator, DRAW_BLOCK
        moves = self.sigma * generator.standard_normal(n)
        bid_notional = np.exp(_SIZE_SIGMA * generator.standard_normal(n))
        ask_notional = np.exp(_SIZE_SIGMA * generator.standard_normal(n))
        buyers = generator.random(n) < 0.5
        trade_sizes = generator.standard_exponential(n)
        decay = (1.0 - self.theta) ** np.arange(1, n + 1)
        log_mids = self.log_anchor + decay * ((self.log_mid - self.log_anchor) + np.cumsum(moves / decay))
        self.log_mid = float(log_mids[-1])
        mids = np.exp(log_mids)
        half = np.maximum(self.half_increment, mids * self.half_spread)
        bids = np.maximum(1.0, np.floor((mids - half) / self.quote_f))
        asks = np.maximum(bids + 1.0, np.ceil((mids + half) / self.quote_f))
        notional = spec.top_of_book_notional / self.base_f
        bid_qty = np.maximum(1.0, np.floor(notional * bid_notional / mids))
        ask_qty = np.maximum(1.0, np.floor(notional * ask_notional / mids))
        mean_trade = spec.daily_volume / (SECONDS_PER_DAY * spec.tick_rate) / self.base_f
        sizes = np.maximum(1.0, np.floor(mean_trade * trade_sizes))
        prices = np.where(buyers, asks, bids)
        sides = ["SELL" if buyer else "BUY" for buyer in buyers.tolist()]
        draws = zip(
            prices.astype(np.int64).tolist(),
            bids.astype(np.int64).tolist(),
            bid_qty.astype(np.int64).tolist(),
            asks.astype(np.int64).tolist(),
            ask_qty.astype(np.int64).tolist(),
            sizes.astype(np.int64).tolist(),
            sides,
            strict=True,
        )
        self.draws = draws
        return next(draws)


TickListener = Callable[[MarketTick], None]


class SimMarket:
    """Prices of every simulated product. ``step`` moves one product; listeners hear every tick."""

    def __init__(
        self,
        product_ids: Iterable[str],
        *,
        clock: Clock,
        seed: int | None = None,
        backfill_minutes: int = BACKFILL_MINUTES,
    ) -> None:
        self._clock = clock
        start = clock.time()
        self._seed = seed
        # The past before the live walk's first minute is the seeded history (simulator/history.py);
        # an unseeded market draws a seed for it, so its candles still join up.
        self._history_seed = seed if seed is not None else random.randrange(2**62)
        self._live_from = int(start // MINUTE) * MINUTE
        self._histories: dict[str, SeededHistory] = {}
        self._states: dict[str, _ProductState] = {}
        self._listeners: list[TickListener] = []
        for product_id in dict.fromkeys(product_ids):
            spec = spec_for(product_id)
            state = _ProductState(
                spec,
                self._rng(product_id, "walk"),
                self._rng(product_id, "book"),
                self._generator(product_id, "draws"),
            )
            self._states[product_id] = state
            self._histories[product_id] = SeededHistory(
                self._history_seed,
                product_id,
                level=float(spec.price),
                daily_volatility=spec.daily_volatility,
                quote_increment=state.quote_f,
                base_increment=state.base_f,
                daily_volume=spec.daily_volume,
            )
            self._backfill(state, backfill_minutes)
            self._quote(state)
            level = max(1, round(math.exp(state.log_mid) / state.quote_f))
            state.price = min(max(level, state.bid), state.ask)
            self._record(state, start, trade=None)

    def _rng(self, product_id: str, purpose: str) -> random.Random:
        # String seeds hash with SHA-512, so a seeded market is identical in every process.
        return (
            random.Random(f"{self._seed}:{product_id}:{purpose}")
            if self._seed is not None
            else random.Random()
        )

    def _generator(self, product_id: str, purpose: str) -> np.random.Generator:
        if self._seed is None:
            return np.random.default_rng()
        digest = hashlib.sha512(f"{self._seed}:{product_id}:{purpose}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:32], "big"))

    # --- queries -------------------------------------------------------------------------------

    @property
    def product_ids(self) -> tuple[str, ...]:
        return tuple(self._states)

    def __contains__(self, product_id: object) -> bool:
        return product_id in self._states

    def spec(self, product_id: str) -> ProductSpec:
        return self._state(product_id).spec

    def products(self) -> list[Product]:
        return [state.spec.product() for state in self._states.values()]

    def quote(self, product_id: str) -> MarketTick:
        """The latest state of a product's market."""
        last = self._state(product_id).last
        assert last is not None  # recorded in __init__
        return last

    def trades(self, product_id: str, limit: int = TRADE_HISTORY) -> list[MarketTrade]:
        """Recent trades, newest first."""
        trades = self._state(product_id).trades
        return [trades[-1 - i] for i in range(min(limit, len(trades)))]

    def book(
        self, product_id: str, levels: int
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """A plausible order book (bids best first, asks best first) around the best bid/ask."""
        state = self._state(product_id)
        spec = state.spec
        rng = state.book_rng
        quote, base = state.quote, state.base
        step = max(
            1,
            int(
                (Decimal(state.price) * Decimal(spec.spread_bps) / 20_000).to_integral_value(
                    rounding=ROUND_CEILING
                )
            ),
        )
        price_f = state.price * state.quote_f
        bids = [(quote * state.bid, base * state.bid_qty)]
        asks = [(quote * state.ask, base * state.ask_qty)]
        for level in range(1, max(1, levels)):
            bid = state.bid - step * level
            if bid > 0:
                bids.append((quote * bid, base * self._size(state, rng, price_f, level + 1)))
            asks.append(
                (quote * (state.ask + step * level), base * self._size(state, rng, price_f, level + 1))
            )
        return bids[:levels], asks[:levels]

    def candles(
        self,
        product_id: str,
        start: int,
        end: int,
        granularity: int,
        limit: int = 350,
        *,
        past: dict[int, list[int]] | None = None,
    ) -> list[MarketCandle]:
        """Candles of ``granularity`` seconds (a multiple of 60) starting in [start, end], newest first,
        at most ``limit`` (the newest). Minutes before the live walk began come from the seeded
        history (``past``: ``history_buckets`` computed beforehand, e.g. in a thread), the others
        from the live minutes kept (the last ``HISTORY_MINUTES``)."""
        state = self._state(product_id)
        span = self._span(state, start, end, granularity, limit)
        if span is None:
            return []
        first, last = span
        if past is None:
            past = self.history_buckets(product_id, start, end, granularity, limit)
        # start: [low, high, open, close, volume] in increments
        buckets = {bucket: list(row) for bucket, row in past.items() if first <= bucket <= last}
        for minute in state.minutes:  # oldest first
            if minute.start < self._live_from or minute.start < first:
                continue
            bucket = minute.start - minute.start % granularity
            if bucket > last:
                break
            found = buckets.get(bucket)
            if found is None:
                buckets[bucket] = [minute.low, minute.high, minute.open, minute.close, minute.volume]
            else:
                found[0] = min(found[0], minute.low)
                found[1] = max(found[1], minute.high)
                found[3] = minute.close
                found[4] += minute.volume
        quote, base = state.quote, state.base
        return [
            MarketCandle(bucket, quote * low, quote * high, quote * open_, quote * close, base * volume)
            for bucket, (low, high, open_, close, volume) in sorted(buckets.items(), reverse=True)
        ]

    def history_buckets(
        self, product_id: str, start: int, end: int, granularity: int, limit: int = 350
    ) -> dict[int, list[int]]:
        """The seeded history's part of ``candles``: bucket start → [low, high, open, close, volume]
        in increments. Pure numpy over the immutable history, so it may run in a thread (a page of
        daily candles is half a million minutes)."""
        state = self._state(product_id)
        span = self._span(state, start, end, granularity, limit)
        if span is None:
            return {}
        first, last = span
        history_end = min(last + granularity, self._live_from)
        if first >= history_end:
            return {}
        past = self._histories[product_id].minutes(first, (history_end - first) // MINUTE)
        at = np.flatnonzero(np.diff(past.start // granularity, prepend=-1))  # each bucket's first minute
        rows = zip(
            past.start[at] // granularity * granularity,
            np.minimum.reduceat(past.low, at),
            np.maximum.reduceat(past.high, at),
            past.open[at],
            past.close[np.append(at[1:], len(past.start)) - 1],
            np.add.reduceat(past.volume, at),
            strict=True,
        )
        return {
            int(bucket): [int(low), int(high), int(open_), int(close), int(volume)]
            for bucket, low, high, open_, close, volume in rows
        }

    def _span(
        self, state: _ProductState, start: int, end: int, granularity: int, limit: int
    ) -> tuple[int, int] | None:
        """The first and last bucket ``candles`` returns, or None when there is none."""
        if granularity < MINUTE or granularity % MINUTE:
            raise ValueError("granularity must be a positive multiple of 60 seconds")
        first = -(-start // granularity) * granularity  # the first bucket starting at or after start
        minutes = state.minutes
        newest = minutes[-1].start if minutes else self._live_from
        last = min(end, newest) - min(end, newest) % granularity  # no candle of the future
        if last < first or limit < 1:
            return None
        return max(first, last - (limit - 1) * granularity), last

    # --- listeners -----------------------------------------------------------------------------

    def add_listener(self, listener: TickListener) -> Callable[[], None]:
        """Call ``listener`` after every tick of any product; returns the function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def _notify(self, tick: MarketTick) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(tick)
            except Exception:
                # One broken consumer must not stop the market for the others.
                log.exception("Market listener %r failed on %s", listener, tick.product_id)

    # --- moving the market ---------------------------------------------------------------------

    def next_interval(self, product_id: str, scale: float = 1.0) -> float:
        """Seconds until the product's next synthetic tick (Poisson arrivals, long gaps capped)."""
        state = self._state(product_id)
        rate = state.spec.tick_rate * scale
        return min(state.rng.expovariate(rate), 5.0 / rate)

    def step(self, product_id: str, now: float) -> MarketTick | None:
        """One synthetic tick. ``None`` once the product follows an external feed."""
        state = self._states.get(product_id) or self._state(product_id)
        if state.external:
            return None
        draw = next(state.draws, None)
        if draw is None:
            draw = state.draw_block()
        price, state.bid, state.bid_qty, state.ask, state.ask_qty, size, side = draw
        state.price = price
        seq = state.trade_seq = state.trade_seq + 1
        trade = MarketTrade(seq, product_id, price, size, side, now, state.quote, state.base)
        state.trades.append(trade)
        tick = self._record(state, now, trade)
        if self._listeners:
            self._notify(tick)
        return tick

    def apply_external_tick(
        self,
        product_id: str,
        price: Number,
        best_bid: Number,
        best_ask: Number,
        now: float | None = None,
        *,
        best_bid_quantity: Number | None = None,
        best_ask_quantity: Number | None = None,
    ) -> MarketTick | None:
        """Follow a real price: the synthetic walk of this product stops for good. Quantities at
        the touch are drawn like the synthetic ones unless given (they cap resting-order fills).
        Prices are taken on the product's quote increment, quantities on its base increment."""
        state = self._states.get(product_id)
        if state is None:
            log.debug("External tick for %s ignored: not a simulated product", product_id)
            return None
        price_d, bid_d, ask_d = _decimal(price), _decimal(best_bid), _decimal(best_ask)
        if price_d <= 0 or bid_d <= 0 or ask_d <= 0:
            raise ValueError(f"external tick for {product_id} has a non-positive price")
        if bid_d > ask_d:
            bid_d, ask_d = ask_d, bid_d
        if not state.external:
            log.info("Market %s now follows the external feed", product_id)
            state.external = True
        when = self._clock.time() if now is None else now
        quote = state.quote
        state.bid = max(1, _units(bid_d, quote))
        state.ask = max(state.bid, _units(ask_d, quote))
        state.price = max(1, _units(price_d, quote))
        state.log_mid = math.log((state.bid + state.ask) / 2 * state.quote_f)
        price_f = float(price_d)
        state.bid_qty = (
            _units(_decimal(best_bid_quantity), state.base)
            if best_bid_quantity is not None
            else self._size(state, state.rng, price_f, 1)
        )
        state.ask_qty = (
            _units(_decimal(best_ask_quantity), state.base)
            if best_ask_quantity is not None
            else self._size(state, state.rng, price_f, 1)
        )
        buyer_aggressor = price_d >= (bid_d + ask_d) / 2
        spec = state.spec
        mean = spec.daily_volume / (SECONDS_PER_DAY * spec.tick_rate) / state.base_f
        state.trade_seq += 1
        trade = MarketTrade(
            state.trade_seq,
            product_id,
            state.price,
            int(mean * state.rng.expovariate(1.0)) or 1,
            "SELL" if buyer_aggressor else "BUY",
            when,
            quote,
            state.base,
        )
        state.trades.append(trade)
        tick = self._record(state, when, trade)
        self._notify(tick)
        return tick

    # --- internals -----------------------------------------------------------------------------

    def _state(self, product_id: str) -> _ProductState:
        try:
            return self._states[product_id]
        except KeyError:
            raise KeyError(f"unknown product {product_id}") from None

    @staticmethod
    def _size(state: _ProductState, rng: random.Random, price: float, depth: int) -> int:
        """Base increments resting at a level ``depth`` levels from the touch (at least one)."""
        notional = state.spec.top_of_book_notional * depth * rng.lognormvariate(0.0, _SIZE_SIGMA)
        return int(notional / price / state.base_f) or 1

    def _quote(self, state: _ProductState) -> None:
        """Best bid/ask on the quote increment around the current mid (the start of a market)."""
        increment = state.quote_f
        mid = math.exp(state.log_mid)
        half = max(state.half_increment, mid * state.half_spread)
        state.bid = max(1, math.floor((mid - half) / increment))
        state.ask = max(state.bid + 1, math.ceil((mid + half) / increment))
        state.bid_qty = self._size(state, state.rng, mid, 1)
        state.ask_qty = self._size(state, state.rng, mid, 1)

    def _record(self, state: _ProductState, now: float, trade: MarketTrade | None) -> MarketTick:
        """Fold the new price into candles and the rolling figures; remember the tick."""
        price = state.price
        minutes = state.minutes
        volume = trade._size if trade is not None else 0
        current = minutes[-1] if minutes else None
        # Minutes start on multiples of 60 s: a later minute is one at least 60 s after the current.
        if current is None or now >= current.start + MINUTE:
            if current is not None:
                self._complete(state, current)
            current = MinuteCandle(int(now // MINUTE) * MINUTE, price, price, price, price, volume)
            minutes.append(current)
            self._evict(state, current.start - SECONDS_PER_DAY)
        else:
            # A clock that steps back must not reopen an older minute: fold into the latest one.
            if price > current.high:
                current.high = price
            elif price < current.low:
                current.low = price
            current.close = price
            current.volume += volume
        high = current.high
        low = current.low
        if state.window:
            open_24h = state.window[0].open
            window_high = state.window_highs[0].high
            window_low = state.window_lows[0].low
            if window_high > high:
                high = window_high
            if window_low < low:
                low = window_low
        else:
            open_24h = current.open
        if price > state.high_52w:
            state.high_52w = price
        elif price < state.low_52w:
            state.low_52w = price
        tick = state.last = MarketTick(
            state.spec.product_id,
            now,
            trade,
            state.quote,
            state.base,
            (
                price,
                state.bid,
                state.bid_qty,
                state.ask,
                state.ask_qty,
                state.window_volume + current.volume,
                open_24h,
                high,
                low,
                state.high_52w,
                state.low_52w,
            ),
        )
        return tick

    @staticmethod
    def _complete(state: _ProductState, minute: MinuteCandle) -> None:
        """A minute is over: it joins the rolling 24 h window."""
        state.window.append(minute)
        state.window_volume += minute.volume
        highs, lows = state.window_highs, state.window_lows
        while highs and highs[-1].high <= minute.high:
            highs.pop()
        highs.append(minute)
        while lows and lows[-1].low >= minute.low:
            lows.pop()
        lows.append(minute)

    @staticmethod
    def _evict(state: _ProductState, oldest: int) -> None:
        """Drop minutes that started 24 h or more before the current one."""
        window = state.window
        while window and window[0].start <= oldest:
            minute = window.popleft()
            state.window_volume -= minute.volume
            if state.window_highs and state.window_highs[0] is minute:
                state.window_highs.popleft()
            if state.window_lows and state.window_lows[0] is minute:
                state.window_lows.popleft()

    def _backfill(self, state: _ProductState, minutes: int) -> None:
        """The seeded history's last ``minutes`` into the buffer, so 24 h figures exist from the
        start; the live walk starts at the history's price of its first minute."""
        history = self._histories[state.spec.product_id]
        if minutes > 0:
            past = history.minutes(self._live_from - minutes * MINUTE, minutes)
            rows = zip(past.start, past.open, past.high, past.low, past.close, past.volume, strict=True)
            for start, open_, high, low, close, volume in rows:
                candle = MinuteCandle(int(start), int(open_), int(high), int(low), int(close), int(volume))
                if state.minutes:
                    self._complete(state, state.minutes[-1])
                state.minutes.append(candle)
        state.log_mid = math.log(history.price_at(self._live_from))
        for minute in state.minutes:
            state.high_52w = max(state.high_52w, minute.high)
            state.low_52w = min(state.low_52w, minute.low)


def _decimal(value: Number) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return to_decimal(value)
    return Decimal(value)
