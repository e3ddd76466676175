"""The read routes' answers are reused only while nothing they show changed: no bus event, no
change through the API, not older than the push window; and only for the same token."""

from __future__ import annotations

from typing import Any

from starlette.types import Message, Receive, Scope, Send

from streambot.api.read_cache import ReadCacheMiddleware
from streambot.clock import ManualClock

PATH = "/api/v1/bots"


class Routes:
    """An ASGI app that answers with how many times it was asked."""

    def __init__(self) -> None:
        self.calls = 0
        self.status = 200

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": str(self.calls).encode()})


class Setup:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.events = 0
        self.routes = Routes()
        self.cache = ReadCacheMiddleware(
            self.routes, clock=self.clock, events_seen=lambda: self.events, max_age_s=0.25
        )

    async def call(self, method: str = "GET", path: str = PATH, token: bytes = b"Bearer t") -> bytes:
        scope: dict[str, Any] = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": b"",
            "headers": [(b"authorization", token)],
        }
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Message) -> None:
            sent.append(message)

        await self.cache(scope, receive, send)
        assert sent[0]["type"] == "http.response.start"
        return b"".join(m.get("body", b"") for m in sent[1:])


async def test_a_read_is_answered_again_until_an_event_a_change_or_the_window_ends() -> None:
    s = Setup()
    assert await s.call() == b"1"
    assert await s.call() == b"1"
    s.events += 1  # an order filled, a bot started…
    assert await s.call() == b"2"
    assert await s.call("POST", "/api/v1/bots/1/start") == b"3"
    assert await s.call() == b"4", "a change through the API is read fresh"
    s.clock.advance_by(0.3)
    assert await s.call() == b"5", "never older than the push window"
    assert s.routes.calls == 5


async def test_other_tokens_other_routes_and_failures_are_never_answered_from_it() -> None:
    s = Setup()
    assert await s.call() == b"1"
    assert await s.call(token=b"Bearer wrong") == b"2"
    assert await s.call(token=b"") == b"3"
    assert await s.call(path="/api/v1/bots/1") == b"4"
    assert await s.call(path="/api/v1/bots/1") == b"5", "not a read route of the list"
    s.routes.status = 503
    s.events += 1
    assert await s.call() == b"6"
    assert await s.call() == b"7", "an error is not kept"
