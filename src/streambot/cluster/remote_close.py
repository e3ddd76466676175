"""Closing a running bot's position from the API process: a command to the worker that owns it.

Only the owner of a bot's lease trades the bot (its intents carry the fencing token), so the API
process does not sell itself: it publishes ``CloseRequested`` on the cluster's event stream, the
worker holding the bot executes the close through its own order path and publishes
``CloseAnswered``, and the API reports that answer as ``streambot run`` would report its own close.
No answer within ``timeout_s`` (the bot is moving between workers, say) is reported as such.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from streambot.bus import Bus
from streambot.clock import Clock
from streambot.domain import BotId, OrderRecord
from streambot.events import CloseAnswered, CloseRequested

log = logging.getLogger(__name__)

Refusal = Literal["", "conflict", "unprocessable"]


@dataclass(frozen=True, slots=True)
class CloseOutcome:
    """The sell that was stored, or why not: ``conflict`` (409) or ``unprocessable`` (422)."""

    order: OrderRecord | None = None
    refused: Refusal = ""
    message: str = ""


class CloseCommands:
    """Both ends of the command: ``ask`` in the API process, ``serve`` on every worker."""

    def __init__(self, bus: Bus, clock: Clock, *, timeout_s: float) -> None:
        self._bus = bus
        self._clock = clock
        self.timeout_s = timeout_s
        self._waiting: dict[str, asyncio.Future[CloseAnswered]] = {}
        bus.subscribe(CloseAnswered, self._on_answer)
        self.asked = 0
        self.served = 0
        self.unanswered = 0

    def _on_answer(self, answer: CloseAnswered) -> None:
        waiting = self._waiting.get(answer.request_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(answer)

    async def ask(self, bot_id: BotId) -> CloseOutcome:
        """The owning worker's outcome of a close of ``bot_id``; a conflict if none answers."""
        request_id = secrets.token_hex(8)
        answered: asyncio.Future[CloseAnswered] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answered
        self.asked += 1
        timer = asyncio.ensure_future(self._clock.sleep(self.timeout_s))
        try:
            self._bus.publish(CloseRequested(request_id=request_id, bot_id=bot_id))
            await asyncio.wait((answered, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            self._waiting.pop(request_id, None)
        if not answered.done():
            answered.cancel()
            self.unanswered += 1
            return CloseOutcome(
                refused="conflict",
                message=f"bot {bot_id}: no cluster worker answered the close within {self.timeout_s:g}s "
                "(it may be moving between workers); close again in a moment",
            )
        answer = answered.result()
        log.info("🧾 Close of bot %s answered by %s", bot_id, answer.worker_id)
        return CloseOutcome(order=answer.order, refused=answer.refused, message=answer.message)

    async def serve(
        self,
        worker_id: str,
        owns: Callable[[BotId], bool],
        close: Callable[[BotId], Awaitable[CloseOutcome]],
    ) -> None:
        """A worker: close the bots it owns when asked, one at a time, until cancelled."""
        requests: asyncio.Queue[CloseRequested] = asyncio.Queue()
        unsubscribe = self._bus.subscribe(CloseRequested, requests.put_nowait)
        try:
            while True:
                await self._serve_one(await requests.get(), worker_id, owns, close)
        finally:
            unsubscribe()

    async def _serve_one(
        self,
        request: CloseRequested,
        worker_id: str,
        owns: Callable[[BotId], bool],
        close: Callable[[BotId], Awaitable[CloseOutcome]],
    ) -> None:
        if not owns(request.bot_id):
            return  # its owner answers
        try:
            outcome = await close(request.bot_id)
        except Exception as exc:  # answered all the same: the API must not wait in vain
            log.exception("Close of bot %s failed", request.bot_id)
            outcome = CloseOutcome(
                refused="conflict", message=f"bot {request.bot_id}: the close failed: {exc}"
            )
        self.served += 1
        self._bus.publish(
            CloseAnswered(
                request_id=request.request_id,
                bot_id=request.bot_id,
                worker_id=worker_id,
                order=outcome.order,
                refused=outcome.refused,
                message=outcome.message,
            )
        )
