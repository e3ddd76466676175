"""The market-data feed's status, in the old system's shape plus what the new one knows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from streambot.api.deps import platform
from streambot.app import Platform

router = APIRouter(prefix="/ws", tags=["feed"])


@router.get("/websocket/status")
async def websocket_status(p: Annotated[Platform, Depends(platform)]) -> dict[str, Any]:
    feed = p.feed
    status = feed.status() if feed is not None else None
    return {
        "active_connections": 0,
        "coinbase_websocket": {
            "is_running": bool(status and status.state not in {"stopped"}),
            "thread_alive": bool(status and status.running),
            "client_initialized": feed is not None,
        },
        "state": status.state if status else "not started",
        "url": feed.ws_url if feed is not None else None,
        "products": list(p.settings.products),
        "messages_received": status.messages_received if status else 0,
        "tickers_received": status.tickers if status else 0,
        "heartbeats_received": status.heartbeats if status else 0,
        "malformed_frames": status.malformed if status else 0,
        "unknown_frames": status.unknown if status else 0,
        "error_frames": status.errors if status else 0,
        "sequence_gaps": status.sequence_gaps if status else 0,
        "reconnects": status.reconnects if status else 0,
        "ticks_by_product": dict(p.bus.ticks_by_product),
        "ticks_skipped": p.evaluator.skipped_ticks if p.evaluator else 0,
    }
