"""The platform's recent log records (the log ring), for the dashboard's log view."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from streambot.observability.logging import LOG_RING, LogEntry

router = APIRouter(prefix="/logs", tags=["logs"])

Level = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class LogEntryOut(BaseModel):
    id: int
    ts: float
    level: str
    logger: str
    message: str

    @classmethod
    def of(cls, entry: LogEntry) -> LogEntryOut:
        return cls(id=entry.id, ts=entry.ts, level=entry.level, logger=entry.logger, message=entry.message)


class LogsOut(BaseModel):
    entries: list[LogEntryOut]
    last_id: int  # the newest record's id: follow on with after_id, or live on /ws/logs
    capacity: int  # how many records the ring keeps


@router.get("")
async def logs(
    level: Annotated[Level, Query(description="This level and above")] = "INFO",
    search: Annotated[str, Query(max_length=200, description="Text in the message or logger name")] = "",
    after_id: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> LogsOut:
    """The newest records (oldest first), filtered by level and text."""
    ring = LOG_RING
    entries = ring.select(after_id=after_id, level=level, search=search, limit=limit)
    return LogsOut(
        entries=[LogEntryOut.of(e) for e in entries],
        last_id=ring.last_id,
        capacity=ring.entries.maxlen or 0,
    )
