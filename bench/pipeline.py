"""``streambot bench``: Coinbase ticker frames through parse → bus → evaluator → strategies, in-process.

It prints figures and asserts nothing: speed targets are read by people, not by the test suite.
The frames are generated before timing starts; a pool is cycled so a million ticks need no
gigabyte of frames, which would swamp the memory figure we want to watch.
"""

from __future__ import annotations

import gc
import random
import resource
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal

import msgspec
import orjson

from streambot.bus import InProcessBus, PriceBoard
from streambot.clock import SystemClock
from streambot.domain import BotId, Position, Side, Signal, Ticker, to_decimal
from streambot.evaluator import BotRuntime, StreamingEvaluator
from streambot.feed.parse import FeedFrame, parse_frame, read_frame
from streambot.observability.latency import LatencyStats
from streambot.strategies.base import BotContext, Strategy
from streambot.strategies.indicators.hub import IndicatorHub
from streambot.strategies.registry import build

PRODUCT = "BTC-USD"
POOL = 20_000


def ticker_frames(count: int, seed: int = 1) -> list[bytes]:
    """Coinbase `ticker` update frames for one product, as the exchange sends them."""
    rng = random.Random(seed)
    price = 97_000.0
    frames = []
    for seq in range(count):
        price *= 1 + rng.gauss(0, 0.0004)
        bid, ask = price - 0.01, price + 0.01
        frames.append(
            orjson.dumps(
                {
                    "channel": "ticker",
                    "client_id": "",
                    "timestamp": "2026-11-21T10:15:30.123456789Z",
                    "sequence_num": seq,
                    "events": [
                        {
                            "type": "update",
                            "tickers": [
                                {
                                    "type": "ticker",
                                    "product_id": PRODUCT,
                                    "price": f"{price:.2f}",
                                    "volume_24_h": "16038.28770938",
                                    "low_24_h": "95835.29",
                                    "high_24_h": "98011.18",
                                    "low_52_w": "55460",
                                    "high_52_w": "109240",
                                    "price_percent_chg_24_h": "-1.15775596190603",
                                    "best_bid": f"{bid:.2f}",
                                    "best_bid_quantity": "0.21",
                                    "best_ask": f"{ask:.2f}",
                                    "best_ask_quantity": "0.077",
                                }
                            ],
                        }
                    ],
                }
            )
        )
    return frames


class _PlainTicker(msgspec.Struct, gc=False):
    product_id: str
    price: float
    volume_24_h: float
    low_24_h: float
    high_24_h: float
    price_percent_chg_24_h: float
    best_bid: float
    best_ask: float


class _PlainEvent(msgspec.Struct, gc=False):
    tickers: list[_PlainTicker]


class _PlainTickerFrame(msgspec.Struct, gc=False):
    channel: str
    timestamp: datetime
    events: list[_PlainEvent]
    sequence_num: int


# The reference for the decode figure: what a plain typed msgspec decode of a ticker frame costs
# (the fields the platform reads, prices as floats, the timestamp as a datetime), with nothing
# checked, completed or converted afterwards.
plain_decode = msgspec.json.Decoder(_PlainTickerFrame, strict=False).decode


@dataclass
class DecodeFigures:
    streambot_us: float  # read_frame: a frame decoded, checked and completed into its Ticker
    plain_us: float
    parse_frame_us: float = 0.0  # parse_frame: the same decode wrapped in a FeedFrame

    @property
    def ratio(self) -> float:
        return self.streambot_us / self.plain_us

    def line(self) -> str:
        return (
            f"decode: streambot {self.streambot_us:.2f} µs vs plain msgspec typed decode "
            f"{self.plain_us:.2f} µs ({self.ratio:.2f}×); parse_frame {self.parse_frame_us:.2f} µs"
        )


def measure_decode(frames: list[bytes], rounds: int = 7) -> DecodeFigures:
    """The feed's decode of a frame (``read_frame``: decoded, checked and completed into a
    Ticker; the client's hot path does the same inline, completing only the tickers it hands
    on), the plain decode of the same frames and
    ``parse_frame`` (the same wrapped in a FeedFrame, for every other reader), in alternating
    rounds on warm decoders; the best round of each (the least disturbed by anything else on
    the machine).

    Timed in this thread's CPU time: on a shared machine wall-clock rounds also count the time
    other processes held the core, which swamps differences of a tenth of a microsecond."""
    sample = frames[: min(len(frames), 5000)]
    for frame in sample[:1000]:
        read_frame(frame, 0)
        parse_frame(frame, 0)
        plain_decode(frame)
    best_ours = best_plain = best_parse = float("inf")
    for _ in range(rounds):
        started = time.thread_time_ns()
        for frame in sample:
            read_frame(frame, 0)
        best_ours = min(best_ours, (time.thread_time_ns() - started) / len(sample) / 1000)
        started = time.thread_time_ns()
        for frame in sample:
            plain_decode(frame)
        best_plain = min(best_plain, (time.thread_time_ns() - started) / len(sample) / 1000)
        started = time.thread_time_ns()
        for frame in sample:
            parse_frame(frame, 0)
        best_parse = min(best_parse, (time.thread_time_ns() - started) / len(sample) / 1000)
    return DecodeFigures(best_ours, best_plain, best_parse)


THRESHOLD_SETS = 7
CROSSOVER_SETS = 15


def _params(i: int) -> tuple[str, dict[str, float]]:
    """Bot ``i``'s strategy and parameters: half threshold bots over 7 dips, half EMA crossovers
    over 15 (fast, slow) pairs. As users run them, many bots share a set: 1,000 bots have 22."""
    if i % 2 == 0:
        return "threshold", {"buy_dip_pct": 0.05 + (i // 2 % THRESHOLD_SETS) * 0.01, "sell_rise_pct": 0.1}
    pair = i // 2 % CROSSOVER_SETS
    return "ema_crossover", {"fast": 5 + pair % 5, "slow": 20 + pair // 5 * 5}


class _Alone:
    """A bot's strategy with no group to join: every bot evaluated on every tick, as before
    issue 16, for the reference figures of the same run."""

    __slots__ = ("_inner",)

    def __init__(self, inner: Strategy) -> None:
        self._inner = inner

    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        return self._inner.on_tick(tick, ctx)


def _bots(count: int, hub: IndicatorHub, *, grouped: bool = True) -> list[BotRuntime]:
    """A realistic mix: threshold and EMA-crossover bots, many of them with the same parameters."""
    bots = []
    for i in range(count):
        name, params = _params(i)
        ctx = BotContext(
            bot_id=BotId(i + 1), product_id=PRODUCT, budget=Decimal(1000), hub=hub, clock=SystemClock()
        )
        strategy = build(name, params)
        bots.append(
            BotRuntime(BotId(i + 1), f"bench-{i}", name, strategy if grouped else _Alone(strategy), ctx)
        )
    return bots


def param_sets(count: int) -> int:
    """How many distinct (strategy, parameters) the first ``count`` bench bots run."""
    return len({(name, tuple(sorted(params.items()))) for name, params in map(_params, range(count))})


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1024 / 1024


@dataclass
class Result:
    bots: int
    ticks: int
    decode_us: float
    plain_decode_us: float  # the same frames through a plain msgspec typed decode, same run
    tick_to_decision_us_mean: float
    tick_to_decision_us_p99: float
    ticks_per_s: float
    decisions: int
    param_sets: int  # distinct (strategy, parameters) among the bots
    rss_start_mb: float
    rss_end_mb: float
    peak_rss_mb: float
    # This thread's CPU time per tick (parse to decisions): what a tick costs however busy the
    # machine is; the wall-clock figures above also hold the time other processes ran.
    cpu_us_per_tick: float = 0.0


def run_one(bots: int, ticks: int, frames: list[bytes] | None = None, *, grouped: bool = True) -> Result:
    frames = frames or ticker_frames(min(ticks, POOL))
    pool = len(frames)

    decode = measure_decode(frames)

    decisions = 0
    one = Decimal(1)
    priced: Ticker | None = None  # the tick whose price ``cost`` is, as a Decimal
    cost = Decimal(0)

    def fill_at_once(bot: BotRuntime, signal: Signal, tick: Ticker) -> None:
        # Stand in for the executor: fill the decision at once, so each bot's position moves as it
        # would live (a bot never filled would decide on every tick, which nobody runs). Its own
        # cost is kept small, as it is not the platform's: the price's Decimal is made once per
        # tick, not once per decision of a burst (the same value: a Decimal is immutable).
        nonlocal decisions, priced, cost
        decisions += 1
        ctx = bot.ctx
        if signal.side is Side.BUY:
            if tick is not priced:
                priced, cost = tick, to_decimal(tick.price)
            ctx.position = Position(one, cost)  # (base, cost): keywords cost more than the rest
        else:
            ctx.position = Position()
        ctx.last_fill_price = tick.price

    bus, board = InProcessBus(SystemClock()), PriceBoard()
    evaluator = StreamingEvaluator(bus, fill_at_once, prices=board, clock=SystemClock())
    evaluator.tick_to_decision = LatencyStats(size=min(ticks, 1_000_000))
    # The evaluator's hub, as BotManager wires it live: the evaluator advances it once per tick.
    for bot in _bots(bots, evaluator.hub, grouped=grouped):
        evaluator.add(bot)
    mailbox = bus.tick_mailbox("bench")
    read, record, publish, take, evaluate, clock = (
        read_frame,
        board.record,
        bus.publish_tick,
        mailbox.get_nowait,
        evaluator.evaluate,
        time.perf_counter_ns,
    )

    gc.collect()
    # As the platform does once started (``app.freeze_start_up``): what start-up built is kept
    # out of the collector's reach, so a collection during a tick walks only what came since.
    gc.freeze()
    rss_start = _current_rss_mb()
    cpu_started = time.thread_time_ns()
    started = clock()
    for i in range(ticks):
        # As the feed client reads a frame (``FeedClient``): the usual frame, one valid ticker,
        # comes back as its Ticker alone; anything else as a FeedFrame of its tickers.
        frame = read(frames[i % pool], clock())
        if type(frame) is Ticker:
            record(frame)  # as the feed does: the price board, then the consumers' mailboxes
            publish(frame)
        else:
            assert isinstance(frame, FeedFrame)
            for tick in frame.tickers:
                record(tick)
                publish(tick)
        pending = take()
        if pending is not None:
            evaluate(pending)
    elapsed = (clock() - started) / 1e9
    cpu_us = (time.thread_time_ns() - cpu_started) / ticks / 1000
    gc.unfreeze()  # the next run's bots are not this one's: these may go
    gc.collect()
    # Before the percentiles: sorting a million samples leaves freed int objects in the
    # allocator's arenas, which would show as growth the platform never had.
    rss_end = _current_rss_mb()
    latency = evaluator.tick_to_decision
    return Result(
        bots=bots,
        ticks=ticks,
        decode_us=round(decode.streambot_us, 3),
        plain_decode_us=round(decode.plain_us, 3),
        tick_to_decision_us_mean=round(latency.mean_us, 3),
        tick_to_decision_us_p99=round(latency.percentile_us(99), 3),
        ticks_per_s=round(ticks / elapsed),
        decisions=decisions,
        param_sets=param_sets(bots),
        rss_start_mb=round(rss_start, 1),
        rss_end_mb=round(rss_end, 1),
        peak_rss_mb=round(_rss_mb(), 1),
        cpu_us_per_tick=round(cpu_us, 3),
    )


# Issue 16's figures before this work (mean, p99, in µs) and its targets, printed beside ours.
ISSUE_BEFORE = {1: "4.2–4.4", 100: "46–50 / p99 153–180", 1000: "551–596 / p99 2,400–2,600"}
TARGETS = {1: "≤ 2.5", 100: "≤ 20", 1000: "≤ 60 / p99 ≤ 500"}


def run_benchmarks(*, bots: int | None, ticks: int, as_json: bool) -> None:
    if as_json:
        print(orjson.dumps(asdict(run_one(bots if bots is not None else 1, ticks))).decode())
        return
    from rich.console import Console
    from rich.table import Table

    frames = ticker_frames(min(ticks, POOL))
    table = Table(
        title=f"streambot: {ticks:,} ticker frames on {PRODUCT}, parse → bus → evaluator → strategies"
    )
    for column in (
        "bots",
        "param sets",
        "decode µs",
        "tick→decision mean µs",
        "p99 µs",
        "CPU µs/tick",
        "every bot evaluated: mean / p99 µs, CPU",
        "issue 16 before: mean / p99 µs",
        "target µs",
        "ticks/s",
        "decisions",
        "RSS start→end MB",
    ):
        table.add_column(column, justify="right")
    console = Console()
    for count in [bots] if bots is not None else [1, 10, 100, 1000]:
        count_ticks = ticks if count < 1000 else max(1, ticks // 10)
        result = run_one(count, count_ticks, frames)
        # The same bots, frames and fills with no groups, in the same run: the plain loop's cost.
        plain = run_one(count, count_ticks, frames, grouped=False)
        table.add_row(
            str(result.bots),
            str(result.param_sets),
            f"{result.decode_us:.2f}",
            f"{result.tick_to_decision_us_mean:.2f}",
            f"{result.tick_to_decision_us_p99:.2f}",
            f"{result.cpu_us_per_tick:.2f}",
            f"{plain.tick_to_decision_us_mean:.2f} / {plain.tick_to_decision_us_p99:.2f}, "
            f"{plain.cpu_us_per_tick:.2f}",
            ISSUE_BEFORE.get(count, ""),
            TARGETS.get(count, ""),
            f"{result.ticks_per_s:,.0f}",
            f"{result.decisions:,}",
            f"{result.rss_start_mb:.0f} → {result.rss_end_mb:.0f}",
        )
    console.print(table)
    console.print(measure_decode(frames).line())
    console.print(
        "Bots of one parameter set on one product are one group: the set's reading once per tick, "
        "threshold bots in price indexes (only crossed bots are visited), reasons written when read."
    )
    console.print("Memory over 1,000,000 ticks: streambot bench --bots 10 --ticks 1000000 --json")


def print_strategy_benchmarks(ticks: int) -> None:
    """The strategy framework's figures (indicator updates, mixed and identical bots)."""
    from rich.console import Console
    from rich.table import Table

    from bench.strategies import run_strategy_benchmarks

    table = Table(title=f"strategies: {ticks:,} synthetic ticks on {PRODUCT}")
    for column in ("measure", "value", "unit", "target", "note"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for row in run_strategy_benchmarks(ticks):
        table.add_row(
            str(row["name"]),
            str(row["value"]),
            str(row["unit"]),
            str(row.get("target", "")),
            str(row.get("note", "")),
        )
    Console().print(table)
