"""FastAPI app factory: every route under /api/v1, token required everywhere but health."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streambot import __version__
from streambot.api.auth import require_token
from streambot.api.dashboard import mount_dashboard
from streambot.api.documented_errors import GUARDED, LOOKED_UP
from streambot.api.errors import validation_error
from streambot.api.metrics import ApiCollector, registry_for
from streambot.api.read_cache import ReadCacheMiddleware
from streambot.api.routes import (
    accounts,
    backtests,
    bots,
    cluster,
    feed,
    health,
    legacy,
    live,
    logs,
    market,
    metrics_summary,
    optimizations,
    strategies,
    trades,
)
from streambot.api.routes import orders as orders_routes
from streambot.api.routes import pnl as pnl_routes
from streambot.api.routes import positions as positions_routes
from streambot.api.routes import risk as risk_routes
from streambot.api.routes.live import DEFAULT_MAX_RATE
from streambot.api.security import (
    AuthGuard,
    BodyLimitMiddleware,
    GuardMiddleware,
    RouteTemplates,
    TokenBuckets,
)
from streambot.observability.logging import install_log_ring

if TYPE_CHECKING:
    from streambot.api.served import ServedPlatform


def create_app(platform: ServedPlatform) -> FastAPI:
    app = FastAPI(
        title="streambot",
        version=__version__,
        description="Streaming trading bots for Coinbase Advanced Trade. "
        "Send `Authorization: Bearer <token>`.",
    )
    app.state.platform = platform
    install_log_ring()  # the log view reads the ring whether or not the CLI configured logging
    # Parameter searches run as child processes, owned (loaded, stopped) by the platform.
    app.state.optimizations = platform.optimizations
    app.add_exception_handler(RequestValidationError, validation_error)
    settings = platform.settings
    app.state.auth_guard = guard = AuthGuard(
        settings.auth_max_failures, settings.auth_lockout_s, platform.clock
    )
    requests = platform.requests
    # Innermost: a read route's answer is reused while nothing it shows changed (read_cache.py);
    # the guard still counts, limits and authenticates every request before it.
    app.add_middleware(
        ReadCacheMiddleware,
        clock=platform.clock,
        events_seen=lambda: platform.events.last_id,
        max_age_s=1.0 / DEFAULT_MAX_RATE,
    )
    # CORS stays off unless origins are configured (the dashboard is served from this origin).
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # After the guard: a body over the limit is refused unread, once the address may ask at all.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    # Added last, so it runs first: a rate-limited or locked-out request costs no routing.
    app.add_middleware(
        GuardMiddleware,
        buckets=TokenBuckets(settings.api_rate_limit, settings.api_rate_burst, platform.clock),
        guard=guard,
        stats=requests,
        templates=RouteTemplates(lambda: app.routes),
        token=platform.api_token,
        open_paths=("/api/v1/health",),
        # The lockout guards what a token opens; the dashboard's page and files ask for none, so a
        # guesser on the owner's address (127.0.0.1) cannot keep the owner from loading them.
        token_paths=("/api/", "/ws/", "/metrics"),
    )

    # Every module's router straight onto the app: FastAPI matches included routers level by
    # level on each request, so nesting (api → protected → module) cost a third of a request.
    prefix = "/api/v1"
    app.include_router(health.router, prefix=prefix)
    protected = [Depends(require_token)]
    # ``responses``: what the guards (and lookups) answer is in the schema too (documented_errors.py).
    looked_up = {bots, market, feed, orders_routes, backtests, optimizations}
    for module in (
        bots,
        strategies,
        market,
        trades,
        feed,
        accounts,
        metrics_summary,
        backtests,
        optimizations,
        cluster,
    ):
        responses = LOOKED_UP if module in looked_up else GUARDED
        app.include_router(module.router, prefix=prefix, dependencies=protected, responses=responses)
    # The trading engine's records and controls.
    for module in (orders_routes, positions_routes, pnl_routes, risk_routes, logs):
        responses = LOOKED_UP if module in looked_up else GUARDED
        app.include_router(module.router, prefix=prefix, dependencies=protected, responses=responses)
    # WebSockets authenticate in the handshake or first message (see routes/live.py).
    app.include_router(live.router, prefix=prefix)
    # The old bot's paths (its users' scripts): the same handlers and auth at /ws/ without /api/v1.
    app.include_router(legacy.router, dependencies=protected)
    app.include_router(legacy.sockets)

    registry = registry_for(platform)
    registry.register(ApiCollector(platform.events, requests, guard, platform.alerts))

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(require_token)])
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    mount_dashboard(app)

    return app
