"""A cluster worker's first live start trades nothing it was not told to, as `streambot run`'s does:
bots left running in paper mode on the shared database are stopped before it leases any of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from streambot.app import Platform
from streambot.config import Role
from streambot.domain import BotState
from tests.integration.live.test_live_start import Venue, venue
from tests.integration.platform.conftest import settings_for

pytestmark = pytest.mark.integration
__all__ = ["venue"]


async def test_a_workers_first_live_start_stops_bots_left_running_in_paper_mode(
    venue: Venue, tmp_path: Path, database_url: str, redis_url: str, cluster_name: str
) -> None:
    data = tmp_path / "data"
    paper = await Platform.open(settings_for(data, database_url=database_url, demo_bots=True))
    await paper.start()
    running = [b.id for b in await paper.bots.list() if b.state is BotState.RUNNING]
    await paper.stop()
    assert running

    shared = {"database_url": database_url, "redis_url": redis_url, "cluster_name": cluster_name}
    worker = await Platform.open(venue.settings(data, **shared), role=Role.WORKER)
    await worker.start()
    try:
        assert sorted(b.id for b in worker.stopped_for_live) == sorted(running)
        assert {b.state for b in await worker.bots.list()} == {BotState.STOPPED}
        assert worker.bots.runtime(running[0]) is None  # nothing leased, nothing evaluated
    finally:
        await worker.stop()
