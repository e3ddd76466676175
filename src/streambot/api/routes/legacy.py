"""The old bot's paths, kept for its users' scripts and clients: aliases of the /api/v1/ws/ routes,
served by the same handlers with the same auth (a token on every request; WebSockets in the
handshake or first message).

    WS   /ws/{bot_id}                    = WS   /api/v1/ws/bots/{bot_id}
    WS   /ws/trade-execution             = WS   /api/v1/ws/trade-execution
    POST /ws/start-streaming/{bot_id}    = POST /api/v1/ws/start-streaming/{bot_id}
    POST /ws/stop-streaming/{bot_id}     = POST /api/v1/ws/stop-streaming/{bot_id}
    GET  /ws/streaming-status            = GET  /api/v1/ws/streaming-status
"""

from __future__ import annotations

from fastapi import APIRouter

from streambot.api.routes import feed, live

TAGS = "legacy paths"

# HTTP aliases: the app adds the token dependency when it includes this router. Out of the
# OpenAPI schema: the /api/v1 routes document them, and a second copy would give the generated
# dashboard client two operations for each.
router = APIRouter(prefix="/ws", tags=[TAGS], include_in_schema=False)
router.add_api_route("/start-streaming/{bot_id}", feed.start_streaming, methods=["POST"])
router.add_api_route("/stop-streaming/{bot_id}", feed.stop_streaming, methods=["POST"])
router.add_api_route("/streaming-status", feed.streaming_status, methods=["GET"])

# WebSocket aliases authenticate themselves, like the originals. trade-execution before
# {bot_id}: the path parameter would match the word, and refuse it as a bot id.
sockets = APIRouter(prefix="/ws", tags=[TAGS])
sockets.add_api_websocket_route("/trade-execution", live.trade_execution)
sockets.add_api_websocket_route("/{bot_id}", live.bot_channel)
