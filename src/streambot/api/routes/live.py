"""The dashboard's WebSockets: trade-execution, bots/{bot_id}, market, status (docs/contracts.md).

Auth is in the handshake (``Sec-WebSocket-Protocol: streambot.v1, token.<TOKEN>``) or in the first
message, never the query string, which ends up in access logs. Close codes: see frames.CloseCode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from streambot.api.deps import MAX_ID
from streambot.api.live.client import LiveClient
from streambot.api.live.frames import SUBPROTOCOL, TOKEN_PREFIX, AuthMessage, Channel, CloseCode
from streambot.api.security import AuthGuard, origin_allowed, peer_of
from streambot.domain import BotId

if TYPE_CHECKING:
    from streambot.api.live.hub import EventHub
    from streambot.api.served import ServedPlatform

log = logging.getLogger(__name__)

router = APIRouter(prefix="/ws", tags=["live"])

CLOSE_TIMEOUT_S = 2.0
MAX_RATE_LIMIT = 50.0
DEFAULT_MAX_RATE = 4.0  # tickers per product per second unless the client asks otherwise


class Refused(Exception):
    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@router.websocket("/trade-execution")
async def trade_execution(websocket: WebSocket) -> None:
    """Order lifecycle, trades, signals and risk events."""
    await _serve(websocket, Channel.TRADE_EXECUTION)


@router.websocket("/bots/{bot_id}")
async def bot_channel(websocket: WebSocket, bot_id: str) -> None:
    """One bot's events plus its product's tickers."""
    await _serve(websocket, Channel.BOTS, bot_id)


@router.websocket("/market")
async def market(websocket: WebSocket) -> None:
    """Tickers of every product, coalesced to ``max_rate`` per product per second."""
    await _serve(websocket, Channel.MARKET)


@router.websocket("/status")
async def status_channel(websocket: WebSocket) -> None:
    """Feed state, alerts, risk events and a status frame every 2 s."""
    await _serve(websocket, Channel.STATUS)


@router.websocket("/logs")
async def logs_channel(websocket: WebSocket) -> None:
    """The platform's log records as they are written (``log`` frames); GET /api/v1/logs has
    the ones before."""
    await _serve(websocket, Channel.LOGS)


def _query_number(websocket: WebSocket, name: str, *, low: float, high: float) -> float | None:
    raw = websocket.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Refused(CloseCode.BAD_REQUEST, f"{name} must be a number, not {raw[:20]!r}") from None
    if not low <= value <= high:
        raise Refused(CloseCode.BAD_REQUEST, f"{name} must be between {low:g} and {high:g}")
    return value


def _bot_id(raw: str) -> int:
    # ASCII digits only, and few of them: str.isdigit() passes "²" and int() refuses it, and int()
    # refuses more than 4300 digits; either ValueError would drop the socket with no close code.
    digits = len(str(MAX_ID))
    if not (raw.isascii() and raw.isdigit()) or len(raw) > digits:
        raise Refused(CloseCode.BAD_REQUEST, f"bot_id must be a positive integer of at most {digits} digits")
    return int(raw)


async def _authenticate(
    websocket: WebSocket, platform: ServedPlatform, guard: AuthGuard, peer: str
) -> int | None:
    """Checks the token (subprotocol or first message); returns last_event_id from the message."""
    token: str | None = None
    for offered in websocket.scope.get("subprotocols", []):
        if offered.startswith(TOKEN_PREFIX):
            token = offered[len(TOKEN_PREFIX) :]
    last_event_id: int | None = None
    if token is None:
        timeout = platform.settings.ws_auth_timeout_s
        try:
            raw = await asyncio.wait_for(websocket.receive_text(), timeout)
        except TimeoutError:
            raise Refused(
                CloseCode.UNAUTHORIZED, f"no auth message within {timeout:g} s: send the token first"
            ) from None
        except (KeyError, RuntimeError):  # a binary frame instead of text
            raise Refused(CloseCode.UNAUTHORIZED, "the first message must be a JSON auth message") from None
        try:
            message = AuthMessage.model_validate_json(raw)
        except ValidationError:
            # No detail: the pydantic error would echo the input, which holds the token.
            raise Refused(
                CloseCode.UNAUTHORIZED,
                'the first message must be {"type":"auth","token":"<TOKEN>","last_event_id":<int|null>}',
            ) from None
        token, last_event_id = message.token, message.last_event_id
    if guard.lockout_for(peer, token, platform.api_token):  # the right token is never locked out
        raise Refused(CloseCode.LOCKED_OUT, "too many wrong API tokens from this address; try later")
    if not guard.verify(peer, token, platform.api_token):
        raise Refused(CloseCode.UNAUTHORIZED, "invalid API token")
    return last_event_id


async def _serve(websocket: WebSocket, channel: Channel, bot_path: str | None = None) -> None:
    platform: ServedPlatform = websocket.app.state.platform
    hub: EventHub = platform.events
    guard: AuthGuard = websocket.app.state.auth_guard
    settings = platform.settings
    peer = peer_of(websocket.scope)
    offered = websocket.scope.get("subprotocols", [])
    # Accept before refusing: a close code (4401, 4403...) can only be sent on an open socket;
    # refusing the handshake would give the browser a bare 403 with no reason.
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    try:
        origin = websocket.headers.get("origin")
        if origin and not origin_allowed(origin, websocket.headers.get("host"), settings.cors_origins):
            raise Refused(CloseCode.FORBIDDEN_ORIGIN, "origin not allowed (see STREAMBOT_CORS_ORIGINS)")
        if hub.client_count >= settings.ws_max_clients:
            raise Refused(CloseCode.TRY_AGAIN_LATER, "the server has as many WebSocket clients as it takes")
        max_rate = _query_number(websocket, "max_rate", low=0.1, high=MAX_RATE_LIMIT) or DEFAULT_MAX_RATE
        query_last = _query_number(websocket, "last_event_id", low=0, high=2**53)
        if query_last is not None and not query_last.is_integer():
            raise Refused(CloseCode.BAD_REQUEST, "last_event_id must be a whole number")
        bot_id = _bot_id(bot_path) if bot_path is not None else None
        message_last = await _authenticate(websocket, platform, guard, peer)
        products = None
        if bot_id is not None:
            try:
                record = await platform.bots.get(BotId(bot_id))
            except LookupError:
                record = None
            if record is None:
                raise Refused(CloseCode.NOT_FOUND, f"bot {bot_id} does not exist")
            products = frozenset({record.product_id})
    except Refused as refused:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(refused.code, refused.reason), CLOSE_TIMEOUT_S)
        return
    except WebSocketDisconnect:
        return
    last_event_id = message_last if message_last is not None else query_last
    client = LiveClient(
        hub,
        channel,
        queue_size=settings.ws_queue_size,
        max_rate=max_rate,
        bot_id=bot_id,
        products=products,
        peer=peer,
    )
    hub.attach(client, int(last_event_id) if last_event_id is not None else None)
    if channel is Channel.STATUS:
        frame = await hub.status_frame()
        if frame is not None:
            client.push_status(frame)
    await _run(websocket, client, platform)


async def _run(websocket: WebSocket, client: LiveClient, platform: ServedPlatform) -> None:
    hub = platform.events
    pump = asyncio.create_task(client.pump(websocket.send_text, platform.prices.latest))
    client.task = pump
    reader = asyncio.create_task(_read_until_closed(websocket))
    try:
        await asyncio.wait({pump, reader}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.detach(client)
        for task in (pump, reader):
            task.cancel()
        for task in (pump, reader):
            with contextlib.suppress(BaseException):
                await task
    if client.too_slow:
        # The socket's buffer may be full (that is why it is slow): do not wait on it for long;
        # uvicorn's keepalive reaps a peer that never reads again.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                websocket.close(CloseCode.TOO_SLOW, "too slow; resume from last_event_id"), CLOSE_TIMEOUT_S
            )


async def _read_until_closed(websocket: WebSocket) -> None:
    """Clients have nothing to say after auth; reading keeps close and disconnect handled."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
