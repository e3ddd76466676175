"""FeedClient over a scripted in-memory transport that says where each socket read ends.

The client hands a read's tickers on at its end (each product's last one, the others counted as
superseded): however the same frames are cut into reads, the board, the mailbox and the counts
must end the same, and every ticker handed on must be complete (its frame's number and time).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import orjson
import pytest

from streambot.bus import InProcessBus, PriceBoard
from streambot.clock import SystemClock
from streambot.events import FeedGapDetected
from streambot.feed.client import FeedClient
from streambot.feed.transport import FeedTransport, FrameHandler, ReadEndHandler
from tests.coinbase_frames import fixture, heartbeat

PRODUCTS = ("BTC-USD", "ETH-USD", "SOL-USD")
CLOCK = SystemClock()


def ticker(seq: int, product: str, price: float, *, bid: float | None = None) -> bytes:
    frame = fixture("ws_ticker.json")
    frame.update(sequence_num=seq, timestamp=f"2023-02-09T20:30:{seq:02d}.5Z")
    (item,) = frame["events"][0]["tickers"]
    item.update(
        product_id=product,
        price=str(price),
        best_bid=str(price - 0.5 if bid is None else bid),
        best_ask=str(price + 0.5),
    )
    return orjson.dumps(frame)


def two_tickers(seq: int) -> bytes:
    frame = orjson.loads(ticker(seq, "SOL-USD", 20.0))
    second = dict(frame["events"][0]["tickers"][0], product_id="ETH-USD", price="13", best_bid="12.5")
    frame["events"][0]["tickers"].append(second)
    return orjson.dumps(frame)


def subscriptions() -> bytes:
    frame = fixture("ws_subscriptions.json")
    frame.update(sequence_num=0)
    return orjson.dumps(frame)


FRAMES = [
    subscriptions(),  # number 0, as a connection's first frame
    ticker(1, "BTC-USD", 100.0),
    ticker(2, "ETH-USD", 10.0),
    ticker(3, "BTC-USD", 101.0),
    ticker(4, "BTC-USD", 102.0, bid=103.0),  # bid above ask: refused, counted
    ticker(5, "ETH-USD", 11.0),
    heartbeat(6, 40),
    ticker(8, "BTC-USD", 103.0),  # 7 never came: a gap
    ticker(7, "ETH-USD", 9.0),  # late: dropped
    ticker(9, "SOL-USD", 5.0),
    b"not json",
    ticker(10, "BTC-USD", 104.0),
    two_tickers(11),
    ticker(12, "ETH-USD", 12.0),
    ticker(13, "BTC-USD", 105.0),
    ticker(14, "BTC-USD", 106.0),
]


class ReadsTransport:
    """Plays ``reads`` (each a list of frames that came in one socket read), then stays open."""

    def __init__(self, reads: list[list[bytes]]) -> None:
        self.reads = reads
        self.played = asyncio.Event()
        self._closed = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def send(self, text: bytes) -> None:
        pass

    async def receive(self, on_frame: FrameHandler, on_read_end: ReadEndHandler) -> str:
        for read in self.reads:
            for frame in read:
                on_frame(memoryview(frame))
            on_read_end()
            await asyncio.sleep(0)
        self.played.set()
        await self._closed.wait()
        return "connection lost"

    async def close(self) -> None:
        self._closed.set()


def cut(frames: list[bytes], size: int) -> list[list[bytes]]:
    return [frames[i : i + size] for i in range(0, len(frames), size)]


async def consume(reads: list[list[bytes]]) -> dict[str, Any]:
    bus, board = InProcessBus(CLOCK), PriceBoard()
    mailbox = bus.tick_mailbox("consumer")
    gaps: list[FeedGapDetected] = []
    bus.subscribe(FeedGapDetected, gaps.append)

    transport = ReadsTransport(reads)

    async def connector(url: str) -> FeedTransport:
        return transport

    client = FeedClient("ws://scripted", PRODUCTS, bus, board=board, clock=CLOCK, connector=connector)
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(transport.played.wait(), 10)
        status = client.status()
    finally:
        await client.stop()
        await task
    pending = []
    while (tick := mailbox.get_nowait()) is not None:
        pending.append(tick)
    latest = board.latest
    assert all(tick.received_ns > 0 for tick in latest.values())
    return {
        "latest": {p: (t.price, t.best_bid, t.best_ask, t.sequence, t.time) for p, t in latest.items()},
        "ticks_by_product": dict(board.ticks_by_product),
        "pending": [(t.product_id, t.price, t.sequence) for t in pending],
        "skipped": dict(mailbox.skipped_by_product),
        "gaps": [(g.kind, g.expected, g.got) for g in gaps],
        "counts": (
            status.messages_received,
            status.tickers,
            status.invalid_tickers,
            status.malformed,
            status.heartbeats,
            status.sequence_gaps,
            status.out_of_order,
        ),
    }


def unix(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize("size", [1, 2, 3, len(FRAMES)])
async def test_however_the_frames_come_in_reads_the_board_mailbox_and_counts_end_the_same(size: int) -> None:
    got = await consume(cut(FRAMES, size))
    assert got["latest"] == {
        "BTC-USD": (106.0, 105.5, 106.5, 14, unix("2023-02-09T20:30:14.5+00:00")),
        "ETH-USD": (12.0, 11.5, 12.5, 12, unix("2023-02-09T20:30:12.5+00:00")),
        "SOL-USD": (20.0, 19.5, 20.5, 11, unix("2023-02-09T20:30:11.5+00:00")),
    }
    assert got["ticks_by_product"] == {"BTC-USD": 6, "ETH-USD": 4, "SOL-USD": 2}
    assert got["pending"] == [("BTC-USD", 106.0, 14), ("ETH-USD", 12.0, 12), ("SOL-USD", 20.0, 11)]
    assert got["skipped"] == {"BTC-USD": 5, "ETH-USD": 3, "SOL-USD": 1}
    assert got["gaps"] == [("sequence", 7, 8)]
    # messages, tickers, invalid tickers, malformed, heartbeats, sequence gaps, out of order
    assert got["counts"] == (16, 12, 1, 1, 1, 1, 1)
