"""The simulator's past: minute candles computed from (seed, product, minute start) alone.

Any past range is reproducible without storing it, in any process and whenever it is asked for:
the log price at each minute boundary is the product's level plus a sum of seeded slow waves
(periods from a quarter of an hour to a few days, amplitudes growing with the square root of the
period as a random walk's spread does, squashed to stay within a few daily volatilities of the
level, as the live walk's pull to its level keeps it) plus a hashed per-minute noise. A minute's
open is the price at its start and its close the price at its end, so consecutive candles join;
high, low and volume come from further hashes of the minute. Coarser candles are aggregated from
these minutes. The live walk starts at the price of the minute it starts in (``SimMarket``), so the
history ends where the live prices begin.

Vectorised with numpy: a page of 350 daily candles (about half a million minutes) takes well
under a second.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

MINUTE: Final = 60
DAY_MINUTES: Final = 1440
WAVES: Final = 14
SHORTEST_PERIOD_MIN: Final = 15.0
LONGEST_PERIOD_MIN: Final = 4 * DAY_MINUTES
BOUND_DAILY_VOLS: Final = 3.0  # the waves stay within this many daily volatilities of the level
AMPLITUDE_SCALE: Final = 0.45  # so a day of history moves about one daily volatility

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

__all__ = ["HistoryMinutes", "SeededHistory"]


@dataclass(frozen=True, slots=True)
class HistoryMinutes:
    """Minute candles in increments (prices of the quote increment, volume of the base increment)."""

    start: I64
    open: I64
    high: I64
    low: I64
    close: I64
    volume: I64


def _mix(x: U64) -> U64:
    """splitmix64's finaliser: a well-spread 64-bit hash, wrapping arithmetic on uint64 arrays."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class SeededHistory:
    """One product's deterministic minute candles for any past range."""

    def __init__(
        self,
        seed: int,
        product_id: str,
        *,
        level: float,
        daily_volatility: float,
        quote_increment: float,
        base_increment: float,
        daily_volume: float,  # base units
    ) -> None:
        digest = hashlib.sha512(f"{seed}:{product_id}:history".encode()).digest()
        self._keys = [np.uint64(int.from_bytes(digest[i : i + 8], "big")) for i in range(0, 40, 8)]
        rng = np.random.default_rng(int.from_bytes(digest[40:64], "big"))
        sigma_day = daily_volatility
        periods = np.geomspace(SHORTEST_PERIOD_MIN, LONGEST_PERIOD_MIN, WAVES)
        # A random walk spreads as sqrt(time): each wave's share of it, over the number of waves.
        self._amplitude = (
            sigma_day * np.sqrt(periods / DAY_MINUTES) * rng.uniform(0.5, 1.0, WAVES) * AMPLITUDE_SCALE
        )
        self._omega = 2 * math.pi / (periods * MINUTE)
        self._phase = rng.uniform(0.0, 2 * math.pi, WAVES)
        self._bound = BOUND_DAILY_VOLS * sigma_day
        self._noise = sigma_day / math.sqrt(DAY_MINUTES) * 0.7
        self._log_level = math.log(level)
        self._increment = quote_increment
        self._mean_volume = daily_volume / DAY_MINUTES / base_increment

    def log_price(self, at: I64) -> F64:
        """The log price at these minute boundaries (UNIX seconds, multiples of 60)."""
        t = at.astype(np.float64)
        waves = np.sin(np.multiply.outer(t, self._omega) + self._phase) @ self._amplitude
        bounded = self._bound * np.tanh(waves / self._bound)
        return self._log_level + bounded + self._noise * self._gaussian(at, 0)

    def price_at(self, minute_start: int) -> float:
        return float(np.exp(self.log_price(np.array([minute_start], dtype=np.int64))[0]))

    def minutes(self, first: int, count: int) -> HistoryMinutes:
        """``count`` minute candles from the minute starting at ``first`` (a multiple of 60)."""
        starts = first + MINUTE * np.arange(count + 1, dtype=np.int64)
        boundary = np.maximum(1, np.rint(np.exp(self.log_price(starts)) / self._increment)).astype(np.int64)
        open_, close = boundary[:-1], boundary[1:]
        starts = starts[:-1]
        up = np.exp(np.abs(self._gaussian(starts, 1)) * self._noise / 2)
        down = np.exp(-np.abs(self._gaussian(starts, 2)) * self._noise / 2)
        high = np.maximum(np.maximum(open_, close), np.rint(np.maximum(open_, close) * up).astype(np.int64))
        low = np.maximum(1, np.minimum(np.minimum(open_, close), np.rint(np.minimum(open_, close) * down)))
        uniform = self._uniform(starts, 3)
        volume = np.floor(self._mean_volume * -np.log1p(-uniform)).astype(np.int64)
        return HistoryMinutes(starts, open_, high, low.astype(np.int64), close, volume)

    # --- hashed randomness: a pure function of the key and the minute --------------------------

    def _uniform(self, at: I64, stream: int) -> F64:
        bits = _mix(at.astype(np.uint64) ^ self._keys[stream])
        return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def _gaussian(self, at: I64, stream: int) -> F64:
        """Standard normal draws (Box-Muller over two hashed uniforms)."""
        u1 = self._uniform(at, stream)
        u2 = _mix(at.astype(np.uint64) ^ self._keys[4] ^ np.uint64(stream))
        angle = (u2 >> np.uint64(11)).astype(np.float64) * (2 * math.pi / (1 << 53))
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(angle)
