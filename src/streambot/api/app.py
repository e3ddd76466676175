"""FastAPI app factory: every route under /api/v1, token required everywhere but health."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streambot import __version__
from streambot.api.auth import require_token
from streambot.api.routes import bots, feed, health, market, strategies, trades
from streambot.observability.metrics import registry_for

if TYPE_CHECKING:
    from streambot.app import Platform


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(
        title="streambot",
        version=__version__,
        description="Streaming trading bots for Coinbase Advanced Trade. "
        "Send `Authorization: Bearer <token>`.",
    )
    app.state.platform = platform

    api = APIRouter(prefix="/api/v1")
    api.include_router(health.router)
    protected = APIRouter(dependencies=[Depends(require_token)])
    for module in (bots, strategies, market, trades, feed):
        protected.include_router(module.router)
    api.include_router(protected)
    app.include_router(api)

    page = resources.files("streambot.api").joinpath("static/index.html").read_text(encoding="utf-8")

    registry = registry_for(platform)

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(require_token)])
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def status_page() -> HTMLResponse:
        return HTMLResponse(page)

    return app
