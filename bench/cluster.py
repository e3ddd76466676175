"""The cluster over the machine's Redis: how fast the feed publishes, and how long a tick takes
from the feed's publish to a worker's decision.

- publish: ticks/s one feed bus gets into Redis Streams (pipelined XADD, one stream per product).
- tick → decision: a feed bus and a worker bus (each with its own Redis connections) and a
  worker's evaluator running 100 bots, ticks published at 2,000/s; latency from the publish call
  to the end of the evaluator's decision on it (both in this process: one perf counter).

- topology: 1 feed (this process, publishing at 2,000 ticks/s over four products) and 2 worker
  processes with 500 bots each, reading the ticks from Redis; each worker's ticks evaluated per
  second, ticks its latest-wins mailbox skipped (it fell behind) and publish → decision p50/p99.

Run with ``streambot bench --only cluster`` or ``python -m bench.cluster``; Redis from
STREAMBOT_REDIS_URL (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from streambot.bus import PriceBoard
from streambot.clock import SystemClock
from streambot.cluster.streams import StreamNames
from streambot.cluster.streams_bus import RedisStreamsBus
from streambot.domain import BotId, ProductId, Signal, Ticker
from streambot.evaluator import BotRuntime, StreamingEvaluator
from streambot.observability.latency import LatencyStats
from streambot.strategies.base import BotContext
from streambot.strategies.registry import build

PRODUCTS = (ProductId("BTC-USD"), ProductId("ETH-USD"), ProductId("SOL-USD"), ProductId("DOGE-USD"))
PUBLISH_TICKS = 100_000
RATE_PER_S = 2_000
LATENCY_SECONDS = 5.0
BOTS = 100


ROOT = Path(__file__).resolve().parents[1]  # the checkout: `python -m bench.cluster` runs there
TOPOLOGY_WORKERS = 2
TOPOLOGY_BOTS = 500
TOPOLOGY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class WorkerFigures:
    ticks_received: int
    ticks_evaluated: int
    ticks_skipped: int
    evaluations: int
    p50_us: float
    p99_us: float


@dataclass(frozen=True, slots=True)
class ClusterFigures:
    publish_ticks_per_s: float
    tick_to_decision_p50_us: float
    tick_to_decision_p99_us: float
    ticks_decided: int
    offered_per_s: float
    topology: list[WorkerFigures]
    topology_offered_per_s: float

    def report(self) -> str:
        per_s = 1 / TOPOLOGY_SECONDS
        lines = [
            f"    worker {n + 1}: {w.ticks_received * per_s:,.0f} ticks/s read, "
            f"{w.ticks_evaluated * per_s:,.0f}/s evaluated ({w.ticks_skipped:,} skipped: latest wins), "
            f"{w.evaluations * per_s:,.0f} bot evaluations/s, p50 {w.p50_us:,.0f}µs p99 {w.p99_us:,.0f}µs"
            for n, w in enumerate(self.topology)
        ]
        return "\n".join(
            (
                "Cluster over Redis Streams (this machine's Redis)",
                f"  feed publish:            {self.publish_ticks_per_s:,.0f} ticks/s into Redis",
                f"  tick published → worker decision at {self.offered_per_s:,.0f} ticks/s, {BOTS} bots: "
                f"p50 {self.tick_to_decision_p50_us:,.0f}µs  p99 {self.tick_to_decision_p99_us:,.0f}µs "
                f"(n={self.ticks_decided})",
                f"  1 feed + {TOPOLOGY_WORKERS} worker processes × {TOPOLOGY_BOTS} bots, "
                f"feed at {self.topology_offered_per_s:,.0f} ticks/s:",
                *lines,
            )
        )


def _tick(product: ProductId, price: float) -> Ticker:
    return Ticker(
        product_id=product,
        price=price,
        best_bid=price - 0.01,
        best_ask=price + 0.01,
        volume_24h=1.0,
        low_24h=price * 0.9,
        high_24h=price * 1.1,
        price_change_pct_24h=0.0,
        time=0.0,
        received_ns=time.perf_counter_ns(),  # the publish instant: kept end to end (restamp off)
        sequence=0,
    )


def _bus(
    redis: Redis, names: StreamNames, origin: str, *, feed: bool, restamp: bool = True
) -> RedisStreamsBus:
    return RedisStreamsBus(
        redis,
        SystemClock(),
        names=names,
        origin=origin,
        products=PRODUCTS,
        board=PriceBoard(),
        publish_ticks=feed,
        read_ticks=not feed,
        restamp_ticks=restamp,
    )


async def _publish_rate(url: str, names: StreamNames) -> float:
    redis = Redis.from_url(url)
    feed = _bus(redis, names, "bench-feed", feed=True)
    runner = asyncio.create_task(feed.run())
    try:
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        for n in range(PUBLISH_TICKS):
            feed.publish_tick(_tick(PRODUCTS[n % len(PRODUCTS)], 100.0 + n % 50))
            if n % 100 == 99:
                await asyncio.sleep(0)  # the writer's turn, as the feed's loop gives it
        # Waits for a batch the writer has on its way, then sends what is left.
        await feed.flush()
        # What reached Redis (a backlog beyond the outbox's bound would lose its oldest ticks).
        return feed.ticks_sent / (time.perf_counter() - started)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await redis.aclose()


def _evaluator(worker: RedisStreamsBus, bots: int, products: tuple[ProductId, ...]) -> StreamingEvaluator:
    def decided(bot: BotRuntime, signal: Signal, tick: Ticker) -> None:
        return None

    evaluator = StreamingEvaluator(worker, decided, prices=PriceBoard(), clock=SystemClock())
    for i in range(bots):
        params = {"buy_dip_pct": 50.0, "sell_rise_pct": 50.0}  # evaluates, never trades
        ctx = BotContext(
            bot_id=BotId(i + 1),
            product_id=products[i % len(products)],
            budget=Decimal(1000),
            hub=evaluator.hub,
            clock=SystemClock(),
        )
        evaluator.add(BotRuntime(BotId(i + 1), f"bench-{i}", "threshold", build("threshold", params), ctx))
    evaluator.tick_to_decision = LatencyStats(size=1 << 16)
    return evaluator


async def _publish_paced(feed: RedisStreamsBus, products: tuple[ProductId, ...], seconds: float) -> float:
    """Ticks at RATE_PER_S for ``seconds``, round-robin over ``products``; the rate achieved."""
    interval = 1.0 / RATE_PER_S
    started = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        due = int(elapsed / interval) + 1
        while sent < due:
            feed.publish_tick(_tick(products[sent % len(products)], 100.0 + sent % 10))
            sent += 1
        await asyncio.sleep(0.001)
    return sent / seconds


async def _latency(url: str, names: StreamNames) -> tuple[LatencyStats, int, float]:
    feed_redis, worker_redis = Redis.from_url(url), Redis.from_url(url)
    feed = _bus(feed_redis, names, "bench-feed", feed=True)
    worker = _bus(worker_redis, names, "bench-worker", feed=False, restamp=False)
    evaluator = _evaluator(worker, BOTS, PRODUCTS[:2])
    tasks = [asyncio.create_task(t) for t in (feed.run(), worker.run(), evaluator.run())]
    try:
        await asyncio.sleep(0.5)  # the worker's readers at the streams' ends
        evaluator.tick_to_decision = LatencyStats(size=1 << 16)
        before = evaluator.ticks_evaluated
        offered = await _publish_paced(feed, PRODUCTS[:2], LATENCY_SECONDS)
        await asyncio.sleep(0.5)
        return evaluator.tick_to_decision, evaluator.ticks_evaluated - before, offered
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await feed_redis.aclose()
        await worker_redis.aclose()


async def _worker_process(url: str, prefix: str, bots: int, seconds: float) -> None:
    """A worker process of the topology benchmark: reads, evaluates, prints its figures as JSON."""
    redis = Redis.from_url(url)
    worker = _bus(redis, StreamNames(prefix), f"bench-worker-{os.getpid()}", feed=False, restamp=False)
    evaluator = _evaluator(worker, bots, PRODUCTS)
    tasks = [asyncio.create_task(t) for t in (worker.run(), evaluator.run())]
    await asyncio.sleep(0.5)
    print("ready", flush=True)
    await asyncio.sleep(seconds + 0.5)
    figures = {
        "ticks_received": worker.ticks_received,
        "ticks_evaluated": evaluator.ticks_evaluated,
        "ticks_skipped": evaluator.skipped_ticks,
        "evaluations": evaluator.evaluations,
        "p50_us": evaluator.tick_to_decision.percentile_us(50),
        "p99_us": evaluator.tick_to_decision.percentile_us(99),
    }
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await redis.aclose()
    print(json.dumps(figures), flush=True)


async def _topology(url: str, names: StreamNames) -> tuple[list[WorkerFigures], float]:
    root = ROOT
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.cluster",
            "--worker",
            names.prefix,
            str(TOPOLOGY_BOTS),
            str(TOPOLOGY_SECONDS),
            stdout=asyncio.subprocess.PIPE,
            cwd=root,
            env={**os.environ, "STREAMBOT_REDIS_URL": url},
        )
        for _ in range(TOPOLOGY_WORKERS)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert (await worker.stdout.readline()).strip() == b"ready"
    redis = Redis.from_url(url)
    feed = _bus(redis, names, "bench-feed", feed=True)
    runner = asyncio.create_task(feed.run())
    try:
        await asyncio.sleep(0.2)
        offered = await _publish_paced(feed, PRODUCTS, TOPOLOGY_SECONDS)
        results = []
        for worker in workers:
            out, _ = await worker.communicate()
            results.append(WorkerFigures(**json.loads(out.decode().strip().splitlines()[-1])))
        return results, offered
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await redis.aclose()


async def measure(url: str) -> ClusterFigures:
    names = StreamNames(f"bench-{secrets.token_hex(4)}")
    cleanup = Redis.from_url(url)
    try:
        rate = await _publish_rate(url, names)
        await cleanup.delete(*(names.ticks(p) for p in PRODUCTS))
        latency, decided, offered = await _latency(url, names)
        topology, topology_offered = await _topology(url, names)
        return ClusterFigures(
            publish_ticks_per_s=rate,
            tick_to_decision_p50_us=latency.percentile_us(50),
            tick_to_decision_p99_us=latency.percentile_us(99),
            ticks_decided=decided,
            offered_per_s=offered,
            topology=topology,
            topology_offered_per_s=topology_offered,
        )
    finally:
        keys = [key async for key in cleanup.scan_iter(match=f"{names.prefix}:*")]
        if keys:
            await cleanup.delete(*keys)
        await cleanup.aclose()


def print_cluster_benchmarks() -> None:
    url = os.environ.get("STREAMBOT_REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        figures = asyncio.run(measure(url))
    except (RedisError, OSError) as exc:
        print(f"Cluster over Redis Streams: skipped, Redis at {url} does not answer ({exc})")
        return
    print(figures.report())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        redis_url = os.environ.get("STREAMBOT_REDIS_URL") or "redis://127.0.0.1:6379/0"
        asyncio.run(_worker_process(redis_url, sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
    else:
        print_cluster_benchmarks()
