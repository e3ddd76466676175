"""GET /api/v1/metrics/summary: the figures of /metrics as one JSON object for the dashboard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from streambot.api.deps import Platform

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.get("/summary")
async def metrics_summary(p: Platform) -> dict[str, Any]:
    """Ticks, latency, evaluations, feed, exchange, cache, WebSocket clients, alerts, REST."""
    return p.summary.metrics()
