"""Backtests: start one (run in a process of its own), list them, read one, its report, cancel.

Data paths are files on the server, so the API reads them only inside the data dir and the
record dir: a token opens the platform, and should not also open every file the process can read
(a corrupt line's reason quotes it back in the summary).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
from fastapi import APIRouter, HTTPException, Response, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from streambot.api.backtest_models import BacktestCreate, BacktestDetailOut, BacktestOut
from streambot.api.deps import Platform, not_found
from streambot.api.errors import unprocessable
from streambot.backtest.bots_file import parse_bots
from streambot.backtest.command import parse_time
from streambot.backtest.engine import BotFileError
from streambot.backtest.runs.run_record import REPORT_DIR, SUMMARY_FILE
from streambot.bots import BotCreate
from streambot.config import Settings
from streambot.domain import BotId
from streambot.simulator.market import spec_for
from streambot.strategies.registry import StrategyError, validate_params

router = APIRouter(prefix="/backtests", tags=["backtests"])

BacktestIdPath = Annotated[int, PathParam(ge=1, le=2**62, description="The backtest's id")]
REPORT_PAGE = "report.html"
_REPORT_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.(png|html)$")
_BOTS_ENTRY = re.compile(r"^bots\[(\d+)\]((?:\.[A-Za-z0-9_]+)*)(?: \([^)]*\))?: (.*)$", re.DOTALL)


def _refuse(loc: tuple[str | int, ...], message: str) -> NoReturn:
    # List indices as numbers, as in FastAPI's own validation errors (body.bots.0.budget).
    raise unprocessable(("body", *loc), message)


def _bots_error(exc: BotFileError) -> NoReturn:
    """``bots[2].params.fast: …`` as the API's other errors: loc body.bots.2.params.fast, the sentence."""
    match = _BOTS_ENTRY.match(str(exc))
    if match is None:
        _refuse(("bots",), str(exc))
    index, path, message = match.groups()
    _refuse(("bots", int(index), *[part for part in path.split(".") if part]), message)


def _check_bots(bots: list[BotCreate]) -> None:
    """What the run would refuse at its start, refused now: unknown strategy, bad params, product."""
    for index, bot in enumerate(bots):
        try:
            validate_params(bot.strategy, bot.params)
        except StrategyError as exc:
            _refuse(("bots", index, *exc.field.split(".")), str(exc))
        try:
            spec_for(bot.product_id)
        except ValueError as exc:
            _refuse(("bots", index, "product_id"), str(exc))


def allowed_roots(settings: Settings) -> list[Path]:
    roots = [settings.data_dir.resolve()]
    if settings.record_dir is not None:
        roots.append(settings.record_dir.resolve())
    return roots


def _check_data(paths: list[str], settings: Settings) -> list[str]:
    roots = allowed_roots(settings)
    checked: list[str] = []
    for index, raw in enumerate(paths):
        where: tuple[str | int, ...] = ("data", index)
        if not raw.strip():
            _refuse(where, "the path is empty")
        given = Path(raw).expanduser()
        path = (given if given.is_absolute() else settings.data_dir / given).resolve()
        if not any(path.is_relative_to(root) for root in roots):
            _refuse(
                where,
                f"{raw!r} is outside the data dir and the record dir (STREAMBOT_DATA_DIR, "
                "STREAMBOT_RECORD_DIR): the API reads market data only there",
            )
        if not path.exists():
            _refuse(where, f"{raw!r} does not exist")
        checked.append(str(path))
    return checked


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def start_backtest(body: BacktestCreate, platform: Platform) -> BacktestOut:
    """Queue a backtest; it runs in a process of its own, progress on the status WebSocket
    (``backtests.*`` events)."""
    settings = platform.settings
    if (body.bots is None) == (body.bot_id is None):
        _refuse(("bots",), "give either bots (a list of bots) or bot_id (an existing bot), one of the two")
    raw_bots: Any = body.bots
    if body.bot_id is not None:
        try:
            record = await platform.bots.get(BotId(body.bot_id))
        except LookupError as exc:
            _refuse(("bot_id",), str(exc))
        raw_bots = [
            {
                "name": record.name,
                "strategy": record.strategy,
                "product_id": record.product_id,
                "params": dict(record.params),
                "budget": str(record.budget),
            }
        ]
    try:
        bots = parse_bots(raw_bots)
    except BotFileError as exc:
        _bots_error(exc)
    _check_bots(bots)
    data = body.data
    if data is None:
        if body.bot_id is None or settings.record_dir is None:
            _refuse(
                ("data",),
                "give the data to replay (paths of recordings, Parquet candle files or JSON lines)"
                + (
                    ""
                    if body.bot_id is None
                    else "; STREAMBOT_RECORD_DIR is not set, so there are no recordings"
                ),
            )
        data = [str(settings.record_dir)]
    paths = await asyncio.to_thread(_check_data, data, settings)
    window: dict[str, float | None] = {}
    for name, value in (("from", body.from_), ("to", body.to)):
        try:
            window[name] = None if value is None else parse_time(str(value), name)
        except ValueError as exc:
            _refuse((name,), str(exc))
    if window["from"] is not None and window["to"] is not None and window["to"] < window["from"]:
        _refuse(("to",), "to is before from")
    request = {
        "data": paths,
        "bots": [bot.model_dump(mode="json") for bot in bots],
        "bot_id": body.bot_id,
        **window,
        "fees": None if body.fees is None else body.fees.model_dump(mode="json"),
        "latency_ms": body.latency_ms,
    }
    return BacktestOut.of(await platform.backtests.submit(request))


@router.get("")
async def list_backtests(platform: Platform) -> list[BacktestOut]:
    """Every run kept, newest first."""
    return [BacktestOut.of(run) for run in platform.backtests.all()]


@router.get("/{backtest_id}")
async def get_backtest(backtest_id: BacktestIdPath, platform: Platform) -> BacktestDetailOut:
    """One run with its full JSON summary once done (``error`` says why a failed one failed)."""
    queue = platform.backtests
    try:
        run = queue.get(backtest_id)
    except LookupError as exc:
        not_found(exc)
    summary, charts = None, []
    if run.state == "done":
        folder = queue.folder(backtest_id)
        summary = orjson.loads(await asyncio.to_thread((folder / SUMMARY_FILE).read_bytes))
        charts = sorted(
            path.name for path in await asyncio.to_thread(list, (folder / REPORT_DIR).glob("*.png"))
        )
    return BacktestDetailOut(**BacktestOut.of(run).model_dump(), summary=summary, charts=charts)


@router.delete("/{backtest_id}", responses={204: {"description": "A finished run, removed with its files"}})
async def delete_backtest(backtest_id: BacktestIdPath, platform: Platform) -> Response:
    """Cancel a queued or running run (its process is killed; the run stays listed as cancelled),
    or remove a finished one with its files (204)."""
    try:
        run = await platform.backtests.cancel(backtest_id)
    except LookupError as exc:
        not_found(exc)
    if run is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return Response(BacktestOut.of(run).model_dump_json(), media_type="application/json")


@router.get("/{backtest_id}/report", response_class=FileResponse)
async def backtest_report(backtest_id: BacktestIdPath, platform: Platform) -> FileResponse:
    """The self-contained HTML report (its charts embedded)."""
    return await _report_file(platform, backtest_id, REPORT_PAGE)


@router.get("/{backtest_id}/report/{file}", response_class=FileResponse)
async def backtest_report_file(backtest_id: BacktestIdPath, file: str, platform: Platform) -> FileResponse:
    """A file of the report: report.html or one of its PNG charts."""
    if not _REPORT_FILE.match(file) or ".." in file:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"the report has no file {file[:100]!r}")
    return await _report_file(platform, backtest_id, file)


async def _report_file(platform: Platform, backtest_id: int, file: str) -> FileResponse:
    queue = platform.backtests
    try:
        run = queue.get(backtest_id)
    except LookupError as exc:
        not_found(exc)
    path = queue.folder(run.id) / REPORT_DIR / file
    if run.state != "done" or not await asyncio.to_thread(path.is_file):
        what = "report" if file == REPORT_PAGE else f"file {file!r}"
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"backtest {run.id} has no {what} ({run.state})")
    return FileResponse(path)
