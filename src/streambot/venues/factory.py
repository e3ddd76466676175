"""Picks the venue an engine trades on: the one place that knows which ``Exchange`` to build.

Today every way of running trades over Coinbase REST: live against api.coinbase.com with a CDP key,
paper against the simulator on loopback without one. Backtests will add an in-process venue over
``venues.matcher`` (its own spec type here and a branch in ``open_exchange``), so callers choose a
venue by the spec they pass, never by ``if backtest:`` in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import assert_never

import aiohttp

from streambot.clock import Clock
from streambot.venues.coinbase.client import CoinbaseRest
from streambot.venues.coinbase.keys import ApiKey


@dataclass(frozen=True, slots=True)
class CoinbaseVenue:
    """Coinbase Advanced Trade REST at ``rest_url`` (the simulator's URL for paper trading)."""

    rest_url: str
    api_key: ApiKey | None = field(default=None, repr=False)
    timeout: float = 10.0


VenueSpec = CoinbaseVenue
"""Every venue ``open_exchange`` can build (a union once the backtest venue joins)."""


def open_exchange(
    venue: VenueSpec, *, clock: Clock, session: aiohttp.ClientSession | None = None
) -> CoinbaseRest:
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
            )
        case _:
            assert_never(venue)
