"""Guards in front of the routes: failed-token lockout, per-address request rate, body size, origins.

All state is in memory, per process, bounded in size: this protects a single streambot from a
script gone wrong or a token guesser, not a fleet from a botnet.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import fastapi.routing
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streambot.clock import Clock
from streambot.observability.requests import RequestStats

log = logging.getLogger(__name__)

_MAX_TRACKED = 10_000  # addresses remembered; the least recently seen are forgotten first


@dataclass(slots=True)
class _Failures:
    count: int
    first_at: float
    locked_until: float = 0.0


class AuthGuard:
    """Checks tokens in constant time and locks out an address after too many wrong ones.

    A missing token is not counted (a browser or monitor without one is not guessing); a wrong
    one is. ``max_failures`` wrong tokens within ``lockout_s`` lock the address for ``lockout_s``.
    """

    def __init__(self, max_failures: int, lockout_s: float, clock: Clock) -> None:
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self._clock = clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()
        self.failures_total = 0
        self.lockouts_total = 0

    def locked_for(self, peer: str) -> float:
        """Seconds this address stays locked out; 0 when it may try."""
        entry = self._failures.get(peer)
        if entry is None:
            return 0.0
        remaining = entry.locked_until - self._clock.monotonic()
        return remaining if remaining > 0 else 0.0

    def verify(self, peer: str, presented: str, expected: str) -> bool:
        if self.matches(presented, expected):
            return True
        self._fail(peer)
        return False

    @staticmethod
    def matches(presented: str, expected: str) -> bool:
        """The right token? In constant time, and counting nothing either way."""
        return hmac.compare_digest(presented.encode(), expected.encode())

    def lockout_for(self, peer: str, presented: str | None, expected: str) -> float:
        """Seconds this request is refused for its address's lockout; 0 when it may go on to the
        token check. Never with the right token: a guesser sharing the owner's address
        (127.0.0.1) locks itself out, never the owner."""
        locked = self.locked_for(peer)
        if locked and presented is not None and self.matches(presented, expected):
            return 0.0
        return locked

    def _fail(self, peer: str) -> None:
        now = self._clock.monotonic()
        self.failures_total += 1
        entry = self._failures.get(peer)
        if entry is None or now - entry.first_at > self.lockout_s:
            entry = _Failures(count=0, first_at=now)
        entry.count += 1
        self._failures[peer] = entry
        self._failures.move_to_end(peer)
        while len(self._failures) > _MAX_TRACKED:
            self._failures.popitem(last=False)
        if entry.count >= self.max_failures and entry.locked_until <= now:
            entry.locked_until = now + self.lockout_s
            self.lockouts_total += 1
            log.warning(
                "❌ %d wrong API tokens from %s: locked out for %.0f s", entry.count, peer, self.lockout_s
            )


class TokenBuckets:
    """A token bucket per address: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.limited_total = 0

    def take(self, peer: str) -> float:
        """0 if the request may go ahead, else the seconds until it could."""
        now = self._clock.monotonic()
        tokens, at = self._buckets.get(peer, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[peer] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[peer] = (tokens, now)
            self.limited_total += 1
            wait = (1.0 - tokens) / self.rate
        self._buckets.move_to_end(peer)
        while len(self._buckets) > _MAX_TRACKED:
            self._buckets.popitem(last=False)
        return wait


def peer_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def bearer_of(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if the request has one."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


async def _too_many(send: Send, wait: float, detail: str) -> None:
    body = b'{"detail":"' + detail.encode() + b'"}'
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(max(1, math.ceil(wait))).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RouteTemplates:
    """The full path template (``/api/v1/bots/{bot_id}``) of the route that served a request.

    Recent FastAPI versions put the router-local route in ``scope["route"]`` (``/bots/{bot_id}``);
    the full template is resolved once from the app's routes, on first use (all are added by then).
    """

    def __init__(self, routes: Callable[[], Iterable[BaseRoute]]) -> None:
        self._routes = routes
        self._by_route: dict[int, str] | None = None

    def _build(self) -> dict[int, str]:
        by_route: dict[int, str] = {}
        iterate = getattr(fastapi.routing, "iter_route_contexts", None)
        if iterate is not None:
            for context in iterate(list(self._routes())):
                if context.path:
                    by_route.setdefault(id(context.original_route), context.path)
        return by_route

    def of(self, route: object) -> str:
        if route is None:
            return "unmatched"
        if self._by_route is None:
            self._by_route = self._build()
        return self._by_route.get(id(route)) or str(getattr(route, "path", "unmatched"))


class GuardMiddleware:
    """Pure ASGI (no per-request task or body copy): rate limit, lockout, request metrics."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        buckets: TokenBuckets,
        guard: AuthGuard,
        stats: RequestStats,
        templates: RouteTemplates,
        token: str,
        open_paths: Iterable[str] = (),
        token_paths: Iterable[str] = ("/",),
    ) -> None:
        self.app = app
        self.templates = templates
        self._token = token
        self.buckets = buckets
        self.guard = guard
        self.stats = stats
        self.open_paths = frozenset(open_paths)
        self.token_paths = tuple(token_paths)  # prefixes of the paths a lockout applies to

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        peer = peer_of(scope)
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        started = time.perf_counter_ns()
        guarded = path not in self.open_paths and path.startswith(self.token_paths)
        locked = self.guard.lockout_for(peer, bearer_of(scope), self._token) if guarded else 0.0
        if locked:
            await _too_many(send, locked, "too many wrong API tokens from this address; try again later")
            self.stats.record(method, "locked_out", 429, time.perf_counter_ns() - started)
            return
        wait = self.buckets.take(peer)
        if wait:
            await _too_many(send, wait, "too many requests; slow down")
            self.stats.record(method, "rate_limited", 429, time.perf_counter_ns() - started)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # The route's template, never the raw path: bounded labels, no ids or tokens in them.
            template = self.templates.of(scope.get("route"))
            self.stats.record(method, template, status, time.perf_counter_ns() - started)


class BodyTooLarge(HTTPException):
    """The request body went past the limit while it was being read.

    An HTTPException, so FastAPI lets it through its body reading (which turns any other error
    into a 400) and answers 413 with its detail.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with 413 before they are read whole or parsed.

    A declared ``Content-Length`` over the limit is answered at once, without reading a byte; a
    body sent without one (chunked) is counted as the route reads it, and refused the moment it
    passes the limit.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refused_total = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    await self._refuse(send, declared)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send, received)

    async def _refuse(self, send: Send, size: int) -> None:
        self.refused_total += 1
        if size < 0:
            detail = "the Content-Length header is not a byte count"
            code = 400
        else:
            detail = f"request body larger than {self.max_bytes} bytes"
            code = 413
        body = b'{"detail":"' + detail.encode() + b'"}'
        await send(
            {
                "type": "http.response.start",
                "status": code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def origin_allowed(origin: str, host: str | None, allowed: Iterable[str]) -> bool:
    """The API's own origin (same host:port as the request) or one configured origin."""
    origin = origin.rstrip("/")
    if origin in set(allowed):
        return True
    parts = urlsplit(origin)
    return bool(host) and parts.scheme in {"http", "https"} and parts.netloc == host
