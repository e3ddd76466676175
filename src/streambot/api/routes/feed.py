"""Feed control and status, under the old system's names (users have scripts against them).

``/ws/websocket/status`` keeps the old shape and adds what the new feed knows;
``start-portfolio-stream`` / ``websocket/stop`` switch the market-data stream on and off (while
off, prices come from REST polling); ``start-streaming`` / ``stop-streaming`` move one bot between
tick-by-tick evaluation and the 5-second polling loop (the old "legacy" mode).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from streambot.api.deps import BotIdPath, Bots, PageLimit, PageOffset, Platform, not_found
from streambot.api.schemas import FeedControlOut, StreamingBotOut, StreamingStatusOut, StreamingToggleOut
from streambot.bots import BotManager
from streambot.domain import BotId, BotState

log = logging.getLogger(__name__)

router = APIRouter(prefix="/ws", tags=["feed"])


@router.get("/websocket/status")
async def websocket_status(p: Platform) -> dict[str, Any]:
    """The market-data feed as the old system reported it, plus dashboard WebSocket clients."""
    feed = p.feed
    status_ = feed.status()
    return {
        "active_connections": p.events.client_count,
        "connections_by_channel": p.events.clients_by_channel(),
        "coinbase_websocket": {
            "is_running": status_.state != "stopped",
            "thread_alive": status_.running,
            "client_initialized": True,
        },
        "state": status_.state,
        "url": feed.ws_url,
        "products": list(p.settings.products),
        "messages_received": status_.messages_received,
        "tickers_received": status_.tickers,
        "heartbeats_received": status_.heartbeats,
        "malformed_frames": status_.malformed,
        "unknown_frames": status_.unknown,
        "error_frames": status_.errors,
        "sequence_gaps": status_.sequence_gaps,
        "reconnects": status_.reconnects,
        "ticks_by_product": dict(p.prices.ticks_by_product),
        "ticks_skipped": p.evaluator.skipped_ticks,
    }


@router.post("/start-portfolio-stream")
async def start_portfolio_stream(p: Platform) -> FeedControlOut:
    """Start (or keep) the live market-data stream; polling stops once it is live."""
    await p.start_feed()
    log.info("🔗 Market-data stream started over the API")
    return FeedControlOut(success=True, message="market-data stream started", state=p.feed.state)


@router.post("/websocket/stop")
async def stop_websocket(p: Platform) -> FeedControlOut:
    """Stop the live market-data stream; prices then come from REST polling."""
    await p.stop_feed()
    log.info("🔗 Market-data stream stopped over the API; prices come from REST polling")
    return FeedControlOut(success=True, message="market-data stream stopped", state=p.feed.state)


async def _toggle(bots: BotManager, bot_id: int, on: bool) -> StreamingToggleOut:
    try:
        record = await bots.set_streaming(BotId(bot_id), on)
    except LookupError as exc:
        not_found(exc)
    return StreamingToggleOut(
        success=True,
        bot_id=record.id,
        streaming=record.streaming,
        mode="streaming" if record.streaming else "polling",
        message=f"bot {record.id} is evaluated "
        + ("on every tick" if record.streaming else "every few seconds by the polling loop"),
    )


@router.post("/start-streaming/{bot_id}")
async def start_streaming(bot_id: BotIdPath, bots: Bots) -> StreamingToggleOut:
    """Evaluate this bot on every tick."""
    return await _toggle(bots, bot_id, True)


@router.post("/stop-streaming/{bot_id}")
async def stop_streaming(bot_id: BotIdPath, bots: Bots) -> StreamingToggleOut:
    """Evaluate this bot by the 5-second polling loop instead (the old "legacy" mode)."""
    return await _toggle(bots, bot_id, False)


@router.get("/streaming-status")
async def streaming_status(
    p: Platform,
    bots: Bots,
    limit: PageLimit = 100,
    offset: PageOffset = 0,
) -> StreamingStatusOut:
    """Which bots are evaluated on every tick and which by the polling loop."""
    records = await bots.list()
    rows = []
    for record in records:
        runtime = bots.runtime(record.id)
        rows.append(
            StreamingBotOut(
                bot_id=record.id,
                name=record.name,
                product_id=record.product_id,
                state=record.state.value,
                streaming=record.streaming,
                active=runtime is not None and record.state is BotState.RUNNING,
                evaluations=runtime.evaluations if runtime else 0,
            )
        )
    return StreamingStatusOut(
        feed_state=p.feed.state,
        active_streams=sum(1 for r in rows if r.streaming and r.active),
        polling_bots=sum(1 for r in rows if not r.streaming and r.active),
        total=len(rows),
        bots=rows[offset : offset + limit],
    )
