"""Live-vs-replay parity: a session's decisions next to the replay of its own recording.

A paper or live session that recorded its feed (``STREAMBOT_RECORD_DIR``) left two things: the
frames it received and, in its database, every decision its bots made (each order intent, with
its time, outcome and fill price). Replaying the recording through the same engine should make
the same decisions on the same ticks. ``compare`` pairs the session's decisions with the replay's,
bot by bot, and says where they differ and why:

- **same**: same side within ``SAME_TICK_S`` of each other (the replay decides at the frame's
  receive time; the session a few microseconds to milliseconds later, once it had evaluated it);
- **another tick**: the same decision further apart in time — e.g. the session's latest-wins
  mailbox skipped a tick under load, or the session's bot started later than the recording;
- **another fill price**: in paper mode the simulator filled against its own book when the order
  arrived; the replay fills at the recorded quote at decision + latency;
- **another outcome**: one was refused (risk rule, exchange) and the other not;
- **only in the session / only in the replay**: the decision depends on an earlier difference
  (position, fill price, cooldown), or the bot was not running for part of the recording.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from streambot.backtest.result import BacktestOrder, BacktestResult, decision
from streambot.bots import BotCreate
from streambot.clock import Clock
from streambot.store.database import Store

SAME_TICK_S = 0.25  # a session decides a tick after it arrived; more than this is another tick
PAIR_WINDOW_S = 30.0  # further apart than this, two decisions are not the same one


@dataclass(frozen=True, slots=True)
class Session:
    """What a session's database says its bots were and did."""

    bots: list[BotCreate]
    started: dict[str, float]  # bot name → when it was created (UNIX seconds)
    decisions: list[BacktestOrder]


@dataclass(frozen=True, slots=True)
class Difference:
    bot: str
    side: str
    what: (
        str  # another tick | another fill price | another outcome | only in the session | only in the replay
    )
    session_time: float | None
    replay_time: float | None
    session: str  # what the session did: "filled at 97,001.20", "rejected: LOSS_COOLDOWN"
    replay: str
    why: str


@dataclass(slots=True)
class Comparison:
    session_decisions: int = 0
    replay_decisions: int = 0
    same: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return not self.differences

    def as_json(self) -> dict[str, object]:
        return {
            "session_decisions": self.session_decisions,
            "replay_decisions": self.replay_decisions,
            "same": self.same,
            "differences": [
                {
                    "bot": d.bot,
                    "side": d.side,
                    "what": d.what,
                    "session_time": d.session_time,
                    "replay_time": d.replay_time,
                    "session": d.session,
                    "replay": d.replay,
                    "why": d.why,
                }
                for d in self.differences
            ],
        }


def database_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'streambot.db').as_posix()}"


async def read_session(url: str, clock: Clock) -> Session:
    """The bots and every order intent of the session stored at ``url``."""
    store = Store(url, clock=clock)
    await store.open()
    try:
        records = await store.list_bots()
        names = {record.id: record.name for record in records}
        orders = []
        before: tuple[datetime, str] | None = None
        while True:
            page = await store.page_orders(limit=1000, before=before)
            orders.extend(page)
            if len(page) < 1000:
                break
            before = (page[-1].created_at, page[-1].client_order_id)
    finally:
        await store.close()
    decisions = [
        decision(order, names.get(order.bot_id, f"bot {order.bot_id}"))
        for order in sorted(orders, key=lambda o: (o.created_at, o.client_order_id))
    ]
    bots = [
        BotCreate(
            name=record.name,
            strategy=record.strategy,
            product_id=record.product_id,
            params=dict(record.params),
            budget=record.budget,
        )
        for record in records
    ]
    return Session(
        bots=bots, started={r.name: r.created_at.timestamp() for r in records}, decisions=decisions
    )


def _outcome(order: BacktestOrder) -> str:
    if order.status == "filled":
        return f"filled at {order.price:,.8f}".rstrip("0").rstrip(".")
    if order.error_code:
        return f"{order.status}: {order.error_code}"
    return order.status


def compare(session: Session, replay: BacktestResult) -> Comparison:
    """Pair the decisions bot by bot and side by side in time order; say what differs and why."""
    result = Comparison(session_decisions=len(session.decisions))
    replayed = [d for bot in replay.bots for d in bot.decisions]
    result.replay_decisions = len(replayed)
    by_bot: dict[str, tuple[list[BacktestOrder], list[BacktestOrder]]] = {}
    for made in session.decisions:
        by_bot.setdefault(made.bot, ([], []))[0].append(made)
    for made in replayed:
        by_bot.setdefault(made.bot, ([], []))[1].append(made)
    for bot in sorted(by_bot):
        ours, theirs = by_bot[bot]
        _pair(bot, ours, theirs, session, replay, result)
    result.differences.sort(
        key=lambda d: (min(t for t in (d.session_time, d.replay_time) if t is not None), d.bot)
    )
    return result


def _pair(
    bot: str,
    ours: Sequence[BacktestOrder],
    theirs: Sequence[BacktestOrder],
    session: Session,
    replay: BacktestResult,
    result: Comparison,
) -> None:
    used = [False] * len(theirs)
    for mine in ours:
        best: int | None = None
        for index, other in enumerate(theirs):
            if used[index] or other.side != mine.side:
                continue
            gap = abs(other.time - mine.time)
            if gap <= PAIR_WINDOW_S and (best is None or gap < abs(theirs[best].time - mine.time)):
                best = index
        if best is None:
            result.differences.append(_only_in_session(bot, mine, session, replay))
            continue
        used[best] = True
        other = theirs[best]
        gap = other.time - mine.time
        if abs(gap) > SAME_TICK_S:
            result.differences.append(
                Difference(
                    bot,
                    mine.side,
                    "another tick",
                    mine.time,
                    other.time,
                    _outcome(mine),
                    _outcome(other),
                    f"the replay decided {abs(gap):.3f} s {'later' if gap > 0 else 'earlier'}: the session "
                    "evaluated other ticks (its latest-wins mailbox skips ticks under load) or its bot's "
                    "indicators had other history",
                )
            )
        elif (mine.status == "filled") != (other.status == "filled") or mine.error_code != other.error_code:
            result.differences.append(
                Difference(
                    bot,
                    mine.side,
                    "another outcome",
                    mine.time,
                    other.time,
                    _outcome(mine),
                    _outcome(other),
                    "the same signal met other conditions: balances, position or a risk state that an "
                    "earlier difference changed, or an order still under way when the recording ended",
                )
            )
        elif mine.status == "filled" and mine.price != other.price:
            result.differences.append(
                Difference(
                    bot,
                    mine.side,
                    "another fill price",
                    mine.time,
                    other.time,
                    _outcome(mine),
                    _outcome(other),
                    f"the session filled against the venue's book when the order arrived; the replay at the "
                    f"recorded {'ask' if mine.side == 'BUY' else 'bid'} of the first tick at or after the "
                    f"decision + {replay.latency_ms:g} ms ({_pct(other.price, mine.price)})",
                )
            )
        else:
            result.same += 1
    for index, other in enumerate(theirs):
        if not used[index]:
            result.differences.append(_only_in_replay(bot, other, session, replay))


def _pct(replay: Decimal, session: Decimal) -> str:
    if not session:
        return "no session price"
    return f"{(replay - session) / session * 100:+.4f} %"


def _only_in_session(bot: str, mine: BacktestOrder, session: Session, replay: BacktestResult) -> Difference:
    if mine.time < replay.start:
        why = "the session decided before the recording began"
    elif mine.time > replay.end:
        why = "the session decided after the recording ended"
    elif bot not in {b.name for b in replay.bots}:
        why = "the bot is not in the replay"
    else:
        why = (
            "the replay's bot did not decide this: an earlier difference (position, fill price, "
            "cooldown) changed its state"
        )
    return Difference(bot, mine.side, "only in the session", mine.time, None, _outcome(mine), "–", why)


def _only_in_replay(bot: str, other: BacktestOrder, session: Session, replay: BacktestResult) -> Difference:
    started = session.started.get(bot)
    if started is not None and other.time < started:
        when = datetime.fromtimestamp(started, UTC).strftime("%H:%M:%S")
        why = (
            f"the session's bot was created at {when} UTC; the replay runs it from the recording's first tick"
        )
    else:
        why = (
            "the session's bot did not decide this: an earlier difference changed its state, or it "
            "was stopped then"
        )
    return Difference(bot, other.side, "only in the replay", None, other.time, "–", _outcome(other), why)


def print_comparison(comparison: Comparison, console: Console, limit: int = 50) -> None:
    console.print(
        f"🔁 Session vs replay: {comparison.session_decisions} decisions in the session, "
        f"{comparison.replay_decisions} in the replay; {comparison.same} the same, "
        f"{len(comparison.differences)} different"
    )
    if comparison.matched:
        console.print(
            "✅ The replay made the session's decisions, on the same ticks, with the same outcomes."
        )
        return
    table = Table(title="Where the replay and the session differ")
    for column in ("time (UTC)", "bot", "side", "what", "session", "replay", "why"):
        table.add_column(column, overflow="fold")
    for difference in comparison.differences[:limit]:
        at = difference.session_time if difference.session_time is not None else difference.replay_time
        assert at is not None
        table.add_row(
            datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            difference.bot,
            difference.side,
            difference.what,
            difference.session,
            difference.replay,
            difference.why,
        )
    console.print(table)
    if len(comparison.differences) > limit:
        console.print(f"… and {len(comparison.differences) - limit} more (all of them in --json)")
