"""What stands between a client and a handler: injected faults, JWT checks, rate limits, errors.

The gate applies them in the order a real request meets them at Coinbase; the errors middleware
turns whatever a handler raises into Coinbase's error body. Like an exchange, the gate finishes a
write (create or cancel orders) whose client went away (timed out, dropped the connection): the
order exists although nobody heard the answer, which is what an unknown outcome is.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import jwt
from aiohttp import web

from streambot.clock import Clock
from streambot.simulator.admin import ADMIN_PREFIX
from streambot.simulator.auth import COINBASE_HOST, AuthFailure, JwtVerifier
from streambot.simulator.faults import Faults
from streambot.simulator.ratelimit import Decision, RateLimitBuckets
from streambot.simulator.responses import RATE_LIMITED_BODY, ApiError, error_response, json_response
from streambot.simulator.rest import KEY_SCOPES, REST_PREFIX

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS_TEXT: Final = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_STATUS_CODES: Final = {500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE"}


def fault_response(status: int, html: bool, limit: int, until: float) -> web.Response:
    """What an injected HTTP failure answers: Coinbase's 429 with its headers, or a 5xx."""
    headers: dict[str, str] = {}
    if status == 429:
        headers = {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(until) + 1),
        }
    if html:
        text = _STATUS_TEXT[status]
        page = (
            f"<html><head><title>{status} {text}</title></head><body><h1>{status} {text}</h1></body></html>\n"
        )
        return web.Response(text=page, status=status, content_type="text/html", headers=headers)
    if status == 429:
        return json_response(RATE_LIMITED_BODY, status, headers)
    return error_response(status, _STATUS_CODES[status], _STATUS_TEXT[status].lower())


def is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


def _bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token.strip()


def _token_subject(request: web.Request) -> str | None:
    """The key name of an (unverified) bearer token: who to count a request against when the
    simulator checks no signatures."""
    token = _bearer_token(request)
    if token is None:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None


class RequestGate:
    """Injected faults, the rate limit and JWT checks before a REST handler; admin paths are
    loopback only; WebSocket upgrades pass."""

    def __init__(
        self,
        faults: Faults,
        verifier: JwtVerifier,
        *,
        clock: Clock,
        rate_limits: bool,
        private_rate: float,
        public_rate: float,
        finish_abandoned: bool = True,
    ) -> None:
        self._clock = clock
        self.finish_abandoned = finish_abandoned
        self._finishing: set[asyncio.Task[web.StreamResponse]] = set()
        self.faults = faults
        self.verifier = verifier
        self.rate_limits = rate_limits
        self.private_rate = private_rate
        self.public_rate = public_rate
        self._private_limiter = RateLimitBuckets(private_rate, clock=clock)
        self._public_limiter = RateLimitBuckets(public_rate, clock=clock)
        # 429s of the simulator's own rate limit, not injected ones: each one a client caused by
        # asking too fast (the reliability tests assert the platform causes none).
        self.rate_limited = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith(ADMIN_PREFIX):
            if not is_loopback(request.remote):
                return error_response(403, "PERMISSION_DENIED", "the simulator admin API is loopback only")
            return await handler(request)
        if not path.startswith(REST_PREFIX):
            return await handler(request)
        if request.method == "POST" and self.finish_abandoned:
            # aiohttp cancels a handler whose client disconnects; the exchange would not. The body
            # is read first: once the client is gone it can no longer be read from the socket.
            await request.read()
            task = asyncio.ensure_future(self._gated(request, handler))
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)
            task.add_done_callback(_finished)
            return await asyncio.shield(task)
        return await self._gated(request, handler)

    async def finish(self) -> None:
        """Wait for the writes still being finished for clients that went away (shutdown)."""
        if self._finishing:
            await asyncio.gather(*list(self._finishing), return_exceptions=True)

    async def _gated(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        public = path.startswith(f"{REST_PREFIX}/market/") or path == f"{REST_PREFIX}/time"
        delay = self.faults.latency() if self.faults.latency_until else 0.0
        if delay:
            await self._clock.sleep(delay)
        injected = self.faults.http_error() if self.faults.http_error_until else None
        if injected is not None:
            fault, until = injected
            limit = self.public_rate if public else self.private_rate
            return fault_response(fault.status, fault.html, int(limit), until)
        key_name: str | None = None
        if not public and self.verifier.enabled:
            try:
                key_name = self._verify(request)
            except AuthFailure as exc:
                log.info("Simulator refused a REST request to %s: %s", path, exc)
                return web.Response(status=401, text="Unauthorized\n")
        scopes = self.verifier.scopes(key_name)
        if key_name is not None:
            needed = "trade" if request.method == "POST" else "view"
            if needed not in scopes and path != f"{REST_PREFIX}/key_permissions":
                return error_response(403, "PERMISSION_DENIED", "Missing required scopes")
        request[KEY_SCOPES] = scopes
        decision: Decision | None = None
        if self.rate_limits:
            if public:
                decision = self._public_limiter.take(request.remote or "")
            else:
                decision = self._private_limiter.take(
                    key_name or _token_subject(request) or request.remote or ""
                )
            if not decision.allowed:
                self.rate_limited += 1
                return json_response(RATE_LIMITED_BODY, 429, decision.headers())
        if request.method == "POST" and path == _CREATE_ORDER:
            refused = self.faults.order_rejection()
            if refused is not None:
                return json_response(_refused_order(refused))
        response = await handler(request)
        if decision is not None:
            response.headers.update(decision.headers())
        held = self.faults.response_delay(request.method)
        if held:
            await self._clock.sleep(held)
        return response

    def _verify(self, request: web.Request) -> str:
        token = _bearer_token(request)
        if token is None:
            raise AuthFailure("no bearer token")
        hosts = {request.host, COINBASE_HOST}
        return self.verifier.verify(token, uri=(request.method, request.path, hosts))


_CREATE_ORDER: Final = f"{REST_PREFIX}/orders"


def _refused_order(error: str) -> dict[str, object]:
    """A create refused as Coinbase words it (``reject_orders`` fault): HTTP 200, success false."""
    return {
        "success": False,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "order_id": "",
        "error_response": {
            "error": error,
            "message": f"fault injected: reject_orders ({error})",
            "error_details": "",
            "preview_failure_reason": f"PREVIEW_{error}",
        },
    }


def _finished(task: asyncio.Task[web.StreamResponse]) -> None:
    """A write finished for a client that may be gone: its error (if any) is logged, not lost."""
    if not task.cancelled() and task.exception() is not None:
        log.error("Simulator write finished with an error: %s", task.exception())


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.error, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        codes = {404: "NOT_FOUND", 405: "UNIMPLEMENTED", 413: "INVALID_ARGUMENT"}
        return error_response(exc.status, codes.get(exc.status, "INVALID_ARGUMENT"), exc.reason)
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("Simulator request %s %s failed", request.method, request.path)
        return error_response(500, "INTERNAL", "internal error")
