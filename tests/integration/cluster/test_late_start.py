"""A cluster process started after the feed went live knows it at once: the feed's latest state,
kept in Redis for late starters, reaches the process's own feed status (health, alerts and the
guard that blocks entries while prices are not live), not only the events the feed sends later."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from streambot.app import Platform
from streambot.clock import SystemClock
from streambot.cluster.streams import StreamCodec, StreamNames
from streambot.config import Role
from streambot.domain import FeedState
from streambot.events import FeedStateChanged
from streambot.simulator.server import Simulator, SimulatorConfig
from tests.integration.platform.conftest import settings_for

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("role", [Role.API, Role.WORKER])
async def test_a_process_started_after_the_feed_went_live_sees_it_live(
    tmp_path: Path, database_url: str, redis_url: str, cluster_name: str, role: Role
) -> None:
    now = SystemClock().time()
    live = FeedStateChanged(state=FeedState.LIVE, reason="subscribed", since=now, ts=now)
    redis = Redis.from_url(redis_url)
    try:  # what the feed process left there when it went live, before this process started
        await redis.set(StreamNames(cluster_name).feed_state, StreamCodec().encode_event(live))
    finally:
        await redis.aclose()

    simulator = Simulator(SimulatorConfig(products=("BTC-USD", "ETH-USD", "DOGE-USD"), seed=3))
    await simulator.start("127.0.0.1", 0)
    try:
        settings = settings_for(
            tmp_path / "data",
            database_url=database_url,
            redis_url=redis_url,
            cluster_name=cluster_name,
            sim_url=simulator.rest_url.split("/api/")[0],
        )
        platform = await Platform.open(settings, role=role)
        await platform.start()
        try:
            for _ in range(100):
                if platform.feed.state is FeedState.LIVE:
                    break
                await asyncio.sleep(0.05)
            assert platform.feed.state is FeedState.LIVE
        finally:
            await platform.stop()
    finally:
        await simulator.stop()
