"""The Coinbase client against the simulator each test module starts (its ``sim`` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from streambot.clock import SystemClock
from streambot.simulator.server import Simulator
from streambot.venues.coinbase.client import CoinbaseRest


@pytest.fixture
async def rest(sim: Simulator) -> AsyncIterator[CoinbaseRest]:
    client = CoinbaseRest(sim.rest_url, clock=SystemClock())
    try:
        yield client
    finally:
        await client.close()
