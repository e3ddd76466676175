"""The parts of the running platform a request uses, as typed FastAPI dependencies.

A route names what it needs (``bots: Bots``, ``trading: Trading``…) and gets that part; every part
exists once the platform is built, so no route checks for a missing one.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

from fastapi import Depends, HTTPException, Path, Query, Request, status

from streambot.api.served import ServedPlatform
from streambot.bots import BotManager
from streambot.config import Settings as PlatformSettings
from streambot.store.database import Store as RecordStore
from streambot.trading.desk import TradingDesk

# Dependencies are ``async def`` though they never await: FastAPI runs a plain ``def`` dependency
# in its thread pool, two thread hand-offs per dependency per request, each contending for the
# GIL with the engine's loop. Measured at 200 req/s: 8 hand-offs per request.


def platform_of(request: Request) -> ServedPlatform:
    return request.app.state.platform  # type: ignore[no-any-return]


async def _platform(request: Request) -> ServedPlatform:
    return platform_of(request)


async def _bots(request: Request) -> BotManager:
    return platform_of(request).bots


async def _trading(request: Request) -> TradingDesk:
    return platform_of(request).trading


async def _store(request: Request) -> RecordStore:
    return platform_of(request).store


async def _settings(request: Request) -> PlatformSettings:
    return platform_of(request).settings


Platform = Annotated[ServedPlatform, Depends(_platform)]
"""The whole platform, for a route that reads several of its parts."""
Bots = Annotated[BotManager, Depends(_bots)]
Trading = Annotated[TradingDesk, Depends(_trading)]
Store = Annotated[RecordStore, Depends(_store)]
Settings = Annotated[PlatformSettings, Depends(_settings)]


def not_found(exc: LookupError) -> NoReturn:
    """A record the request names does not exist: 404 with the store's message (which one)."""
    raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


MAX_ID = 2**63 - 1  # ids are BIGINT in the store

BotIdPath = Annotated[int, Path(ge=1, le=2**62, description="The bot's id")]
"""A bot id in a path; bounded so a huge number is a 422, not an overflow in the database."""

BotIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
"""An optional bot filter of a listing."""

PageLimit = Annotated[int, Query(ge=1, le=1000, description="At most this many items")]
PageOffset = Annotated[int, Query(ge=0, le=1_000_000, description="Skip this many items first")]
