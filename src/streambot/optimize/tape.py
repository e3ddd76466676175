"""The market data of an optimisation, read once per process and replayed from memory per trial.

A trial replays the same ticks hundreds of times; reading and decoding the files each time would
cost more than the replay. The ticks are kept column-wise in numpy arrays (about 90 bytes a tick:
1 M ticks take ~90 MB, where as many ``Ticker`` objects would take ~300 MB) and rebuilt as
``Ticker`` objects chunk by chunk while a trial replays them. Windows (walk-forward, --from/--to)
are slices found by bisection on the replay times.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from streambot.backtest.result import SkippedLine
from streambot.backtest.sources import BacktestData, TimedTick
from streambot.domain import Ticker

_CHUNK = 1 << 15  # ticks turned back into Python objects at a time
_FLOATS = ("at", "price", "bid", "ask", "volume", "low", "high", "change", "time")


@dataclass(slots=True)
class TickTape:
    """Every tick of the data, column-wise; ``ticks(lo, hi)`` replays the ticks ``lo``…``hi-1``."""

    products: list[str]
    columns: dict[str, npt.NDArray[np.float64]]
    product_index: npt.NDArray[np.int16]
    received_ns: npt.NDArray[np.int64]
    sequence: npt.NDArray[np.int64]
    candle_derived: bool = False
    skipped: list[SkippedLine] = field(default_factory=list)

    @classmethod
    def read(cls, paths: Sequence[str], start: float | None = None, end: float | None = None) -> TickTape:
        """Read ``paths`` as a backtest does (``BacktestData``); raises its ``DataSourceError``."""
        data = BacktestData.open(list(paths), start, end)
        return cls.of(data.ticks(), candle_derived_of=data)

    @classmethod
    def of(cls, ticks: Iterator[TimedTick], candle_derived_of: BacktestData | None = None) -> TickTape:
        rows: dict[str, list[float]] = {name: [] for name in _FLOATS}
        products: dict[str, int] = {}
        index: list[int] = []
        received: list[int] = []
        sequence: list[int] = []
        appends = [rows[name].append for name in _FLOATS]
        add_at, add_price, add_bid, add_ask, add_vol, add_low, add_high, add_change, add_time = appends
        for at, tick in ticks:
            add_at(at)
            add_price(tick.price)
            add_bid(tick.best_bid)
            add_ask(tick.best_ask)
            add_vol(tick.volume_24h)
            add_low(tick.low_24h)
            add_high(tick.high_24h)
            add_change(tick.price_change_pct_24h)
            add_time(tick.time)
            index.append(products.setdefault(tick.product_id, len(products)))
            received.append(tick.received_ns)
            sequence.append(tick.sequence)
        return cls(
            products=list(products),
            columns={name: np.asarray(values, dtype=np.float64) for name, values in rows.items()},
            product_index=np.asarray(index, dtype=np.int16),
            received_ns=np.asarray(received, dtype=np.int64),
            sequence=np.asarray(sequence, dtype=np.int64),
            candle_derived=candle_derived_of.candle_derived if candle_derived_of is not None else False,
            skipped=candle_derived_of.skipped if candle_derived_of is not None else [],
        )

    def __len__(self) -> int:
        return len(self.columns["at"])

    @property
    def start(self) -> float:
        return float(self.columns["at"][0])

    @property
    def end(self) -> float:
        return float(self.columns["at"][-1])

    def at(self, i: int) -> float:
        return float(self.columns["at"][i])

    def index_of(self, when: float) -> int:
        """The first tick at or after ``when``."""
        return int(np.searchsorted(self.columns["at"], when, side="left"))

    def ticks(self, lo: int = 0, hi: int | None = None) -> Iterator[TimedTick]:
        hi = len(self) if hi is None else hi
        names = self.products
        cols = self.columns
        for first in range(lo, hi, _CHUNK):
            last = min(hi, first + _CHUNK)
            part = [cols[name][first:last].tolist() for name in _FLOATS]
            product = self.product_index[first:last].tolist()
            received = self.received_ns[first:last].tolist()
            sequence = self.sequence[first:last].tolist()
            for at, price, bid, ask, vol, low, high, change, time, p, rec, seq in zip(
                *part, product, received, sequence, strict=True
            ):
                yield (
                    at,
                    Ticker(
                        product_id=names[p],
                        price=price,
                        best_bid=bid,
                        best_ask=ask,
                        volume_24h=vol,
                        low_24h=low,
                        high_24h=high,
                        price_change_pct_24h=change,
                        time=time,
                        received_ns=rec,
                        sequence=seq,
                    ),
                )


__all__ = ["TickTape"]
