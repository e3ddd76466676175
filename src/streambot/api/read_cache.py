"""The dashboard's read routes, answered from the last response while nothing it shows changed.

Under load (issue 16: 200 WebSocket clients, ~120 GET/s) each GET built the same lists of bots,
positions and P&L again, validated them and encoded them to JSON: a few milliseconds of the one
event loop each, which the ticks then waited behind. Here a GET of a read route is answered with
the bytes of the last identical GET (same path, query and Authorization header, so a request without
the token never meets an answer meant for one with it) while all of these hold:

- no event went over the bus since (an order, a fill, a bot started or stopped, a risk change…:
  the live hub counts them, ``last_id``);
- no request other than a GET or HEAD was made since (a change made through the API);
- the answer is younger than ``max_age_s``, the live push's ticker window: prices, P&L and counters
  in a GET are then never older than what the WebSocket shows.

Only 200 answers are kept; anything else goes to the routes every time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streambot.clock import Clock

# The routes the dashboard's pages read on load and on refresh; each answers from memory or the
# store, the same for every caller with the token.
READ_ROUTES = frozenset(
    {
        "/api/v1/market/tickers",
        "/api/v1/metrics/summary",
        "/api/v1/bots",
        "/api/v1/bots/status/enhanced",
        "/api/v1/bots/budget-limits",
        "/api/v1/positions",
        "/api/v1/pnl",
        "/api/v1/orders",
        "/api/v1/trades",
        "/api/v1/risk",
        "/api/v1/ws/websocket/status",
        "/api/v1/feed/streaming-status",
    }
)
_SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class _Answer:
    made_at: float  # the clock's monotonic time
    events_seen: int  # the hub's last event id when it was made
    route: Any  # the route FastAPI matched: the request counters label hits by it too
    start: Message
    body: bytes


class ReadCacheMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        clock: Clock,
        events_seen: Callable[[], int],
        max_age_s: float,
        paths: frozenset[str] = READ_ROUTES,
    ) -> None:
        self.app = app
        self._clock = clock
        self._events_seen = events_seen
        self._max_age_s = max_age_s
        self._paths = paths
        self._answers: dict[tuple[str, bytes, bytes], _Answer] = {}
        self.hits = 0
        self.misses = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in _SAFE_METHODS:
            # A change through the API: whatever it changed is read fresh, during it and after.
            self._answers.clear()
            try:
                await self.app(scope, receive, send)
            finally:
                self._answers.clear()
            return
        path: str = scope["path"]
        if scope["method"] != "GET" or path not in self._paths:
            await self.app(scope, receive, send)
            return
        key = (path, scope.get("query_string", b""), _authorization(scope))
        answer = self._answers.get(key)
        if (
            answer is not None
            and answer.events_seen == self._events_seen()
            and self._clock.monotonic() - answer.made_at < self._max_age_s
        ):
            self.hits += 1
            scope["route"] = answer.route
            await send(answer.start)
            await send({"type": "http.response.body", "body": answer.body})
            return
        self.misses += 1
        events_seen, made_at = self._events_seen(), self._clock.monotonic()
        start: Message | None = None
        chunks: list[bytes] = []
        whole = True

        async def keeping_send(message: Message) -> None:
            nonlocal start, whole
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            else:
                whole = False
            await send(message)

        await self.app(scope, receive, keeping_send)
        if start is not None and start["status"] == 200 and whole:
            self._answers[key] = _Answer(made_at, events_seen, scope.get("route"), start, b"".join(chunks))


def _authorization(scope: Scope) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return bytes(value)
    return b""
