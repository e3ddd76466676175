"""Picks the venue an engine trades on: the one place that knows which ``Exchange`` to build.

Live trading goes over Coinbase REST to api.coinbase.com with a CDP key, paper trading over the same
client to the simulator on loopback; backtests trade in-process on the matcher (``MatcherVenue``).
Callers choose a venue by the spec they pass, never by ``if backtest:`` in the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import assert_never, overload

import aiohttp

from streambot.clock import Clock
from streambot.domain import FeeTier, Product, ProductId
from streambot.venues.coinbase.client import CoinbaseRest
from streambot.venues.coinbase.keys import ApiKey
from streambot.venues.coinbase.rate_limit import RateLimiter
from streambot.venues.matcher.exchange import MatcherExchange


@dataclass(frozen=True, slots=True)
class CoinbaseVenue:
    """Coinbase Advanced Trade REST at ``rest_url`` (the simulator's URL for paper trading)."""

    rest_url: str
    api_key: ApiKey | None = field(default=None, repr=False)
    timeout: float = 10.0
    # A cluster's processes share one budget per account (cluster/rate_bucket.py); None: the
    # client's own in-process limiters.
    private_limiter: RateLimiter | None = field(default=None, compare=False)
    public_limiter: RateLimiter | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class MatcherVenue:
    """The matcher in this process (backtests): one account funded with ``starting_balances``."""

    products: Mapping[ProductId, Product]
    starting_balances: Mapping[str, Decimal]
    fee_tier: FeeTier
    latency_s: float = 0.05
    seed: int = 0


VenueSpec = CoinbaseVenue | MatcherVenue
"""Every venue ``open_exchange`` can build."""


@overload
def open_exchange(
    venue: CoinbaseVenue, *, clock: Clock, session: aiohttp.ClientSession | None = None
) -> CoinbaseRest: ...


@overload
def open_exchange(
    venue: MatcherVenue, *, clock: Clock, session: aiohttp.ClientSession | None = None
) -> MatcherExchange: ...


def open_exchange(
    venue: VenueSpec, *, clock: Clock, session: aiohttp.ClientSession | None = None
) -> CoinbaseRest | MatcherExchange:
    """The ``Exchange`` for ``venue``, reading time from ``clock``; the caller closes it."""
    match venue:
        case CoinbaseVenue():
            key = venue.api_key
            return CoinbaseRest(
                venue.rest_url,
                clock=clock,
                api_key=key.name if key is not None else None,
                api_secret=key.secret if key is not None else None,
                session=session,
                timeout=venue.timeout,
                private_limiter=venue.private_limiter,
                public_limiter=venue.public_limiter,
            )
        case MatcherVenue():
            return MatcherExchange(
                venue.products,
                clock=clock,
                starting_balances=venue.starting_balances,
                fee_tier=venue.fee_tier,
                latency_s=venue.latency_s,
                seed=venue.seed,
            )
        case _:
            assert_never(venue)
