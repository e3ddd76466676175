"""GET /api/v1/health: the one route without a token, for monitors and load balancers."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from streambot.api.deps import platform
from streambot.app import Platform

router = APIRouter()


@router.get("/health")
async def health(p: Annotated[Platform, Depends(platform)]) -> dict[str, Any]:
    feed = p.feed.status() if p.feed is not None else None
    feed_ok = feed is not None and feed.state == "live"
    store: dict[str, Any] = {"ok": True}
    try:
        # A real round trip: a store that cannot answer must not be reported healthy.
        await asyncio.wait_for(p.store.count_bots(), timeout=2.0)
    except Exception as exc:
        store = {"ok": False, "error": type(exc).__name__}
    components: dict[str, Any] = {
        "feed": {"ok": feed_ok, "state": feed.state if feed else "not started"},
        "evaluator": {"ok": p.evaluator is not None, "errors": p.evaluator.errors if p.evaluator else 0},
        "store": store,
        "simulator": {"ok": p.simulator is not None} if p.settings.mode.value == "paper" else None,
    }
    return {
        "status": "ok" if feed_ok and store["ok"] else "degraded",
        "mode": p.settings.mode.value,
        "market_data": p.settings.market_data.value,
        "uptime_s": round(time.time() - p.started_at, 1),
        "components": {k: v for k, v in components.items() if v is not None},
    }
