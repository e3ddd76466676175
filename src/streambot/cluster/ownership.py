"""Each running bot owned by exactly one live worker: leases in the store, a fencing token each.

Every ``renew_every`` seconds a worker writes its heartbeat, renews its leases (what renewal does
not return was taken over: the bot is dropped here at once), and evens out the load: with R
running bots and W live workers (heartbeat newer than ``stale_after``), each holds at most
⌈R / W⌉. A worker above that gives bots up (a worker that joined gets them); one below claims bots
whose lease is released or stale (a worker that died: within ``stale_after`` plus a round). The
token is set in ``FencingTokens`` before the bot runs here and dropped before it stops, and the
store refuses the intent of a bot whose token is not the current one.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from streambot.clock import Clock
from streambot.domain import BotId, BotLease, ClusterWorker, FencingTokens, OrderRecord

log = logging.getLogger(__name__)


async def wait_or_sleep(event: asyncio.Event, clock: Clock, seconds: float) -> None:
    """Until ``event`` is set or ``seconds`` passed on ``clock``, whichever comes first."""
    waiter = asyncio.ensure_future(event.wait())
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait((waiter, sleeper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        sleeper.cancel()


class OwnershipStore(Protocol):
    async def claim_bot_lease(
        self, bot_id: BotId, worker_id: str, *, at: datetime, stale_before: datetime
    ) -> int | None: ...
    async def renew_bot_leases(self, worker_id: str, at: datetime) -> dict[BotId, int]: ...
    async def release_bot_lease(self, bot_id: BotId, worker_id: str) -> None: ...
    async def mark_bot_running(self, bot_id: BotId, worker_id: str, running: bool) -> None: ...
    async def bot_leases(self) -> list[BotLease]: ...
    async def save_cluster_worker(self, worker: ClusterWorker) -> None: ...
    async def cluster_workers(self) -> list[ClusterWorker]: ...


@dataclass(frozen=True, slots=True)
class WorkerReading:
    """How fast a worker decides, for its heartbeat (``GET /api/v1/cluster``)."""

    ticks_per_s: float
    p99_us: float


class FollowedElsewhere:
    """Which stored orders another live worker follows itself: those of the bots it runs, while
    recent (an order older than ``grace_s`` that is still open is anyone's to reconcile). The
    reconciler of the worker holding the account's duties skips them; the ownership loop keeps
    the set up to date every round."""

    def __init__(self, clock: Clock, grace_s: float) -> None:
        self._clock = clock
        self._grace = timedelta(seconds=grace_s)
        self.bots: frozenset[BotId] = frozenset()

    def __call__(self, order: OrderRecord) -> bool:
        return order.bot_id in self.bots and order.created_at > self._clock.now() - self._grace


class BotOwnership:
    """One worker's side of the ownership protocol; ``run()`` until cancelled, ``leave()`` at stop."""

    def __init__(
        self,
        *,
        store: OwnershipStore,
        clock: Clock,
        fencing: FencingTokens,
        host: str,
        pid: int,
        running_bots: Callable[[], Awaitable[list[BotId]]],
        adopt: Callable[[BotId], Awaitable[bool]],
        drop: Callable[[BotId], Awaitable[None]],
        reading: Callable[[], WorkerReading],
        renew_every: float = 1.0,
        stale_after: float = 5.0,
        followed_elsewhere: FollowedElsewhere | None = None,
    ) -> None:
        if stale_after <= renew_every:
            raise ValueError("a bot lease's stale_after must be longer than its renew_every")
        self._store = store
        self._clock = clock
        self.fencing = fencing
        self.worker_id = fencing.worker_id
        self._host = host
        self._pid = pid
        self._started_at = clock.now()
        self._running_bots = running_bots
        self._adopt = adopt
        self._drop = drop
        self._reading = reading
        self._renew_every = renew_every
        self._stale_after = stale_after
        self._renewed_at = clock.monotonic()
        self._followed_elsewhere = followed_elsewhere
        self._wake = asyncio.Event()
        # Leased here but not running yet: an order of the previous owner is not settled, and a
        # position read before it is would be wrong (a sell twice). Tried again every round.
        self.pending: set[BotId] = set()
        self.rounds = 0

    def wake(self) -> None:
        """Run a round now (a bot was started or stopped elsewhere)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception as exc:
                unrenewed = self._clock.monotonic() - self._renewed_at
                log.warning("🔑 Bot leases not renewed (%s); %.1fs since the last renewal", exc, unrenewed)
                if unrenewed >= self._stale_after - self._renew_every and self.fencing.owned():
                    # Others may take the bots over any moment now: stop trading them first.
                    log.error("⛔ Bot leases lost (store unreachable): this worker drops its bots")
                    await self._drop_all()
            self._wake.clear()
            await wait_or_sleep(self._wake, self._clock, self._renew_every)

    async def step(self) -> None:
        """One round: renew, even out, heartbeat."""
        now = self._clock.now()
        stale_before = now - timedelta(seconds=self._stale_after)
        held = await self._store.renew_bot_leases(self.worker_id, now)
        self._renewed_at = self._clock.monotonic()
        for bot_id in self.fencing.owned():
            if held.get(bot_id) != self.fencing.get(bot_id):
                log.warning("🔑 Bot %s was taken over by another worker: it stops here", bot_id)
                await self._give_up(bot_id, release=False)
        running = set(await self._running_bots())
        for bot_id in list(held):
            if bot_id not in running:
                await self._give_up(bot_id, release=True)
                held.pop(bot_id)
        for bot_id, token in held.items():
            if self.fencing.get(bot_id) is None:  # ours in the store, not running here (a restart)
                await self._take(bot_id, token)
            elif bot_id in self.pending:
                await self._start(bot_id)
            await self._renew_if_due()
        alive = {w.worker_id for w in await self._store.cluster_workers() if w.last_seen >= stale_before}
        alive.add(self.worker_id)  # its first heartbeat is written at the end of its first round
        share = math.ceil(len(running) / len(alive))
        owned = self.fencing.owned()
        for bot_id in owned[share:] if len(owned) > share else ():
            log.info("🔑 Bot %s handed on: %d running bots over %d workers", bot_id, len(running), len(alive))
            await self._give_up(bot_id, release=True)
        missing = share - len(self.fencing.owned())
        leases = await self._store.bot_leases()
        if self._followed_elsewhere is not None:
            self._followed_elsewhere.bots = frozenset(
                x.bot_id
                for x in leases
                if x.running and x.worker_id not in ("", self.worker_id) and x.renewed_at >= stale_before
            )
        if missing > 0:
            free = {x.bot_id for x in leases if x.worker_id == "" or x.renewed_at < stale_before}
            leased = {lease.bot_id for lease in leases}
            candidates = sorted(b for b in running if b in free or b not in leased)
            for bot_id in candidates:
                if missing <= 0:
                    break
                claimed = await self._store.claim_bot_lease(
                    bot_id, self.worker_id, at=self._clock.now(), stale_before=stale_before
                )
                if claimed is not None:
                    await self._take(bot_id, claimed)
                    missing -= 1
                await self._renew_if_due()
        await self._heartbeat(now)
        self.rounds += 1

    async def _renew_if_due(self) -> None:
        """A round that takes many bots, each started in turn, can outlast the renew interval on
        a loaded machine: the leases held are renewed on the way, or another worker takes the
        first ones over as stale while they still trade here."""
        if self._clock.monotonic() - self._renewed_at >= self._renew_every:
            await self._store.renew_bot_leases(self.worker_id, self._clock.now())
            self._renewed_at = self._clock.monotonic()

    async def _heartbeat(self, now: datetime) -> None:
        """Written after the round, so it lists the bots as they are owned now."""
        reading = self._reading()
        await self._store.save_cluster_worker(
            ClusterWorker(
                self.worker_id,
                self._host,
                self._pid,
                self._started_at,
                now,
                self.fencing.owned(),
                reading.ticks_per_s,
                reading.p99_us,
            )
        )

    async def leave(self) -> None:
        """A clean stop: every bot is released so the others take them over at once."""
        for bot_id in self.fencing.owned():
            await self._give_up(bot_id, release=True)

    async def _take(self, bot_id: BotId, token: int) -> None:
        self.fencing.set(bot_id, token)
        log.info("🔑 Bot %s leased by this worker (token %d)", bot_id, token)
        await self._start(bot_id)

    async def _start(self, bot_id: BotId) -> None:
        try:
            started = await self._adopt(bot_id)
        except Exception:
            log.exception("❌ Bot %s could not be started on this worker; its lease is given back", bot_id)
            await self._give_up(bot_id, release=True)
            return
        if started:
            self.pending.discard(bot_id)
            await self._store.mark_bot_running(bot_id, self.worker_id, True)
        else:
            if bot_id not in self.pending:
                log.info("⏳ Bot %s waits for its previous owner's orders to settle", bot_id)
            self.pending.add(bot_id)

    async def _give_up(self, bot_id: BotId, *, release: bool) -> None:
        self.pending.discard(bot_id)
        self.fencing.drop(bot_id)
        await self._drop(bot_id)
        if release:
            await self._store.release_bot_lease(bot_id, self.worker_id)

    async def _drop_all(self) -> None:
        self.pending.clear()
        for bot_id in self.fencing.owned():
            self.fencing.drop(bot_id)
            await self._drop(bot_id)
