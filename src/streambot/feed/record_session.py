"""``streambot record``: the platform's own feed client, subscribed as the platform subscribes
(ticker + heartbeats, every product in one message), with a recorder and nothing else attached."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streambot.bus import InProcessBus, PriceBoard
from streambot.clock import Clock
from streambot.feed.client import FeedClient
from streambot.feed.recorder import FeedRecorder

__all__ = ["RecordingSummary", "record_feed"]


@dataclass(frozen=True, slots=True)
class RecordingSummary:
    frames: int
    files: list[str]
    products: list[str]
    dropped: int
    failed: str

    def line(self, directory: Path) -> str:
        text = (
            f"Recorded {self.frames} frames into {len(self.files)} file(s) in {directory}; "
            f"products: {', '.join(self.products) or 'none'}"
        )
        if self.dropped:
            text += f"; {self.dropped} frames dropped (the disk fell behind)"
        if self.failed:
            text += f"; recording stopped early: {self.failed}"
        return text


async def record_feed(
    url: str, products: Sequence[str], directory: Path, clock: Clock, duration: float | None = None
) -> RecordingSummary:
    """Record until ``duration`` seconds have passed, or SIGINT/SIGTERM; then close the files."""
    recorder = FeedRecorder(directory, clock)
    recorder.start()
    feed = FeedClient(url, products, InProcessBus(clock), board=PriceBoard(), clock=clock, recorder=recorder)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, done.set)
    task = asyncio.create_task(feed.run(), name="record-feed")
    try:
        waiting = asyncio.create_task(done.wait())
        timer = asyncio.create_task(clock.sleep(duration)) if duration is not None else None
        await asyncio.wait(
            {t for t in (waiting, timer, task) if t is not None}, return_when=asyncio.FIRST_COMPLETED
        )
        for pending in (waiting, timer):
            if pending is not None:
                pending.cancel()
    finally:
        await feed.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await asyncio.to_thread(recorder.close)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    files = sorted(recorder.touched)
    recorded_products = sorted({p for name in files for p in recorder.files[name].products})
    return RecordingSummary(recorder.frames, files, recorded_products, recorder.dropped, recorder.failed)
