"""The backtest endpoints' request and response bodies (``/api/v1/backtests``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from streambot.backtest.runs.run_record import BacktestRun


class BacktestFees(BaseModel):
    model_config = ConfigDict(extra="forbid")

    maker: Decimal = Field(ge=0, lt=Decimal("0.5"), description="Fraction: 0.006 is 0.6 %")
    taker: Decimal = Field(ge=0, lt=Decimal("0.5"), description="Fraction: 0.012 is 1.2 %")


class BacktestCreate(BaseModel):
    """Either ``bots`` (with the fields of POST /api/v1/bots) or ``bot_id`` (an existing bot's
    strategy, params, product and budget). ``data`` are paths on the server, inside the data dir
    or the record dir (relative ones are read from the data dir); with ``bot_id`` and no ``data``,
    the platform's recordings (STREAMBOT_RECORD_DIR)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    data: list[str] | None = Field(default=None, min_length=1, max_length=100)
    bots: list[Any] | None = Field(default=None, description="Bots as POST /api/v1/bots takes them")
    bot_id: int | None = Field(default=None, ge=1, le=2**62)
    from_: str | float | None = Field(
        default=None, alias="from", description="Replay from (UNIX seconds or ISO date/time)"
    )
    to: str | float | None = Field(default=None, description="Replay until, inclusive")
    fees: BacktestFees | None = Field(default=None, description="Default: Coinbase's entry tier")
    latency_ms: float = Field(default=50.0, ge=0, le=600_000)


class BacktestProgressOut(BaseModel):
    ticks: int
    at: datetime | None = Field(description="The data time the replay reached")
    ticks_per_s: int


class BacktestOut(BaseModel):
    id: int
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    created: datetime
    started: datetime | None
    finished: datetime | None
    bot_id: int | None
    bots: list[dict[str, Any]]
    data: list[str]
    start: datetime | None = Field(description="The request's from")
    end: datetime | None = Field(description="The request's to")
    progress: BacktestProgressOut
    figures: dict[str, Any] = Field(description="Key figures of the summary (its total) once done")
    error: str | None
    report_url: str | None = Field(description="The HTML report, once done")

    @classmethod
    def of(cls, run: BacktestRun) -> Self:
        request = run.request
        return cls(
            id=run.id,
            state=run.state,
            created=_time(run.created),
            started=_time(run.started),
            finished=_time(run.finished),
            bot_id=request.get("bot_id"),
            bots=list(request.get("bots", ())),
            data=list(request.get("data", ())),
            start=_time(request.get("from")),
            end=_time(request.get("to")),
            progress=BacktestProgressOut(ticks=run.ticks, at=_time(run.at), ticks_per_s=run.ticks_per_s),
            figures=run.figures,
            error=run.error,
            report_url=f"/api/v1/backtests/{run.id}/report" if run.state == "done" else None,
        )


class BacktestDetailOut(BacktestOut):
    summary: dict[str, Any] | None = Field(description="The full JSON summary of `streambot backtest --json`")
    charts: list[str] = Field(description="The report's PNG charts, each at report_url/<name>")


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
