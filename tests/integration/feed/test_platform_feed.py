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


async def test_poison_frames_through_the_platform_stop_nothing(platform: Platform) -> None:
    """The issue's reproduction on a whole paper platform: poison frames from the simulator, then
    the feed is still live, fresh valid prices reach the board, the live push still builds its
    frames, and no background task died (none needed a restart)."""
    feed = platform.feed
    simulator = platform.simulator
    assert simulator is not None
    await until(lambda: feed.state == "live" and feed.tickers > 0, "the feed to go live")

    await simulator.inject_fault("poison", count=3)
    await until(lambda: feed.status().malformed >= 12, "counted malformed frames")
    await until(lambda: feed.status().invalid_tickers >= 12, "dropped invalid tickers")
    ticks = feed.tickers
    await until(lambda: feed.tickers > ticks + 10, "tickers after the poison")

    status = feed.status()
    assert status.state == "live"
    assert status.reconnects == 0
    assert status.sequence_resyncs >= 1
    for tick in platform.prices.latest.values():
        assert 0 < tick.best_bid <= tick.best_ask < float("inf")
    frame = await platform.events.status_frame()
    assert frame is not None
    assert '"entries_blocked":null' in frame
    names = set(platform.supervisor.names)
    assert {"feed", "evaluator", "live-push", "alerts", "chart-candles", "reconciliation", "equity"} <= names
    assert all(platform.supervisor.running(name) for name in names - {"feed"})
    assert platform.supervisor.restarts == dict.fromkeys(platform.supervisor.names, 0)
    text = generate_latest(registry_for(platform)).decode()
    assert "streambot_feed_invalid_tickers_total" in text
    assert 'streambot_task_restarts_total{task="live-push"} 0.0' in text


async def test_a_background_task_that_dies_is_restarted_and_stop_ends_it(platform: Platform) -> None:
    """The platform's own spawning runs under the supervisor: a task that dies comes back."""
    runs: list[int] = []

    async def dies_once() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("boom")
        await platform.clock.sleep(3600)

    platform._spawn(dies_once, "test-task")
    await until(lambda: len(runs) == 2, "a restart")
    assert platform.supervisor.restarts["test-task"] == 1
    assert platform.supervisor.running("test-task")
