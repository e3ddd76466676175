"""``streambot bench feed``'s measurement against the simulator: every tick counted, nothing lost."""

from __future__ import annotations

import pytest

from streambot.feed.throughput import measure_feed
from streambot.simulator.server import Simulator, SimulatorConfig

pytestmark = pytest.mark.integration

PRODUCTS = ("BTC-USD", "ETH-USD")


async def test_measure_feed_consumes_the_asked_ticks_through_the_feed_client() -> None:
    sim = Simulator(SimulatorConfig(products=PRODUCTS, seed=5, tick_rate_scale=50.0))
    await sim.start("127.0.0.1", 0)
    try:
        result = await measure_feed(sim.ws_url, PRODUCTS, 40, wait_s=30.0)
    finally:
        await sim.stop()
    assert result.ticks >= 40
    assert result.seconds > 0
    assert result.malformed == 0
    report = result.as_json()
    assert report["ticks_per_s"] == round(result.ticks_per_s, 1)
    assert report["url"] == sim.ws_url


async def test_measure_feed_names_how_far_it_got_when_ticks_do_not_come() -> None:
    with pytest.raises(TimeoutError, match=r"0 of 5 ticks from ws://127\.0\.0\.1:9/"):
        await measure_feed("ws://127.0.0.1:9/", PRODUCTS, 5, wait_s=0.3)
