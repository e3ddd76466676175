"""The Redis Streams bus on the real Redis: events and ticks cross processes' buses unchanged,
a late starter hears the feed's state, and a reader cut off resumes from its last id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from streambot.bus import PriceBoard
from streambot.clock import SystemClock
from streambot.cluster.streams import StreamNames
from streambot.cluster.streams_bus import RedisStreamsBus
from streambot.domain import BotId, FeedState, ProductId, Ticker
from streambot.events import BotUpdated, Event, FeedStateChanged, KillSwitchChanged
from tests.integration.cluster.proxy import TcpRelay

pytestmark = pytest.mark.integration

PRODUCTS = (ProductId("BTC-USD"), ProductId("ETH-USD"))


def _tick(product: str, price: float) -> Ticker:
    return Ticker(
        product_id=ProductId(product),
        price=price,
        best_bid=price - 1,
        best_ask=price + 1,
        volume_24h=1.0,
        low_24h=1.0,
        high_24h=2.0,
        price_change_pct_24h=0.0,
        time=1.0,
        received_ns=1,
        sequence=1,
    )


@asynccontextmanager
async def _bus(url: str, cluster: str, origin: str, **options: Any) -> AsyncIterator[RedisStreamsBus]:
    client = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=1)
    bus = RedisStreamsBus(
        client,
        SystemClock(),
        names=StreamNames(cluster),
        origin=origin,
        products=PRODUCTS,
        board=PriceBoard(),
        **options,
    )
    task = asyncio.create_task(bus.run())
    try:
        yield bus
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()


async def _until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_events_and_ticks_cross_to_another_bus_as_the_same_types(
    redis_url: str, cluster_name: str
) -> None:
    async with (
        _bus(redis_url, cluster_name, "feed", publish_ticks=True) as feed,
        _bus(redis_url, cluster_name, "worker", read_ticks=True) as worker,
    ):
        await asyncio.sleep(0.3)  # both readers at the streams' ends
        heard: list[Event] = []
        mine: list[Event] = []
        worker.subscribe("", heard.append)
        feed.subscribe("", mine.append)
        box = worker.tick_mailbox("evaluator", urgent=True)
        feed.publish(KillSwitchChanged(scope="account", bot_id=None, on=True, reason="test"))
        feed.publish(BotUpdated(bot_id=BotId(7)))
        feed.publish_tick(_tick("BTC-USD", 100.0))
        feed.publish_tick(_tick("ETH-USD", 10.0))
        await _until(lambda: len(heard) == 2 and len(box) == 2)
        first = heard[0]
        assert isinstance(first, KillSwitchChanged)
        assert first.on
        assert first.ts > 0
        assert heard[1] == mine[1]  # the same event, stamped once by its publisher
        assert len(mine) == 2  # a bus does not hear its own events twice
        ticks = {(await box.get()).product_id: t for t in range(2)}
        assert set(ticks) == set(PRODUCTS)
        assert worker.ticks_received == 2
        board_price = worker._board.get(ProductId("BTC-USD"))
        assert board_price is not None
        assert board_price.price == 100.0


async def test_a_process_starting_later_hears_the_feeds_state(redis_url: str, cluster_name: str) -> None:
    async with _bus(redis_url, cluster_name, "feed", publish_ticks=True) as feed:
        feed.publish(FeedStateChanged(state=FeedState.LIVE, reason="connected", since=1.0))
        await feed.flush()
        client = Redis.from_url(redis_url)
        bus = RedisStreamsBus(
            client,
            SystemClock(),
            names=StreamNames(cluster_name),
            origin="late",
            products=PRODUCTS,
            board=PriceBoard(),
            read_ticks=True,
        )
        states: list[FeedStateChanged] = []
        bus.subscribe(FeedStateChanged, states.append)
        task = asyncio.create_task(bus.run())
        try:
            await _until(lambda: bool(states))
            assert states[0].state is FeedState.LIVE
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await client.aclose()


async def test_a_reader_cut_off_resumes_from_its_last_id_and_reports_the_link(
    redis_url: str, cluster_name: str
) -> None:
    relay = TcpRelay(6379)
    await relay.start()
    links: list[bool] = []
    try:
        async with (
            _bus(redis_url, cluster_name, "api") as publisher,
            _bus(
                f"redis://127.0.0.1:{relay.port}/0",
                cluster_name,
                "worker",
                lost_after_s=0.5,
                on_link=lambda up, reason: links.append(up),
            ) as reader,
        ):
            await asyncio.sleep(0.3)
            heard: list[BotUpdated] = []
            reader.subscribe(BotUpdated, heard.append)
            publisher.publish(BotUpdated(bot_id=BotId(1)))
            await _until(lambda: len(heard) == 1)
            await relay.cut()
            for n in range(2, 52):  # published while the reader is cut off
                publisher.publish(BotUpdated(bot_id=BotId(n)))
            await publisher.flush()
            await _until(lambda: links == [False])
            assert not reader.connected
            relay.restore()
            await _until(lambda: len(heard) == 51, within=10)
            assert [e.bot_id for e in heard] == list(range(1, 52))  # none lost, none twice, in order
            assert links == [False, True]
    finally:
        await relay.close()
