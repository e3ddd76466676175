"""Platform.start_feed / stop_feed and the feed's and REST client's metrics, on a paper platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from streambot.api.metrics import registry_for
from streambot.app import Platform
from streambot.config import Settings
from tests.integration.feed.conftest import until

pytestmark = pytest.mark.integration


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    settings = Settings(
        data_dir=tmp_path / "data",
        sim_port=0,
        sim_seed=3,
        products=("BTC-USD", "ETH-USD"),
        demo_bots=False,
        rest_poll_interval=0.2,
    )
    running = await Platform.open(settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_stopping_the_stream_keeps_prices_coming_then_it_resumes(platform: Platform) -> None:
    feed = platform.feed
    assert feed is not None
    await until(lambda: feed.state == "live", "the feed to go live")

    await platform.stop_feed()
    await until(lambda: feed.state == "polling", "polling")
    polled = feed.status().polled_tickers
    await until(lambda: feed.status().polled_tickers >= polled + 4, "REST prices")
    assert platform.prices.latest["BTC-USD"].sequence == -1

    await platform.start_feed()
    await until(lambda: feed.state == "live", "live again")
    await until(lambda: platform.prices.latest["BTC-USD"].sequence >= 0, "streamed prices again")


async def test_metrics_cover_the_feed_and_the_rest_client(platform: Platform) -> None:
    feed = platform.feed
    assert feed is not None
    await until(lambda: feed.state == "live", "the feed to go live")
    text = generate_latest(registry_for(platform)).decode()
    for name in (
        'streambot_exchange_requests_total{endpoint="/products",status="200"}',
        'streambot_exchange_circuit_state{state="closed"} 1.0',
        "streambot_exchange_rate_limited_total 0.0",
        'streambot_exchange_rate_limiter_waits_total{bucket="private"}',
        "streambot_feed_uptime_ratio",
        "streambot_feed_heartbeat_gaps_total",
        'streambot_balance_cache_total{result="joined"}',
    ):
        assert name in text, name
