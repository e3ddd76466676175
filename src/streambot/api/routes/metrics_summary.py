"""GET /api/v1/metrics/summary: the figures of /metrics as one JSON object for the dashboard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from streambot.api.deps import Platform
from streambot.api.summary import entries_blocked, market_source

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.get("/summary")
async def metrics_summary(p: Platform) -> dict[str, Any]:
    """Ticks, latency, evaluations, feed, exchange, cache, WebSocket clients, alerts, REST; and,
    as the status frame gives them, whose market it is and why entries are refused (a dashboard
    without its status socket polls this, and must not say "Trading active" meanwhile)."""
    return {
        **p.summary.metrics(),
        "market": market_source(p),
        "entries_blocked": entries_blocked(p, p.feed.status()),
    }
