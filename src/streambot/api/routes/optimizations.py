"""Parameter searches: start one (``streambot optimize`` in a process of its own), follow it (here
and on the live WebSocket's status channel), create a bot from its best parameters."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, NoReturn

import orjson
from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from streambot.api.deps import Bots, Platform
from streambot.api.errors import unprocessable
from streambot.api.optimizations import OptimizationRun, OptimizationRuns
from streambot.bots import BotError

router = APIRouter(prefix="/optimizations", tags=["optimizations"])

ObjectiveName = Literal["profit", "sharpe", "sortino", "calmar", "profit_drawdown"]


class OptimizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[str] = Field(min_length=1, description="Paths on the server, as --data takes them")
    strategy: str
    product_id: str
    budget: Decimal = Field(gt=0)
    trials: int = Field(default=50, ge=1, le=100_000)
    jobs: int | None = Field(default=None, ge=1, le=256)
    objectives: list[ObjectiveName] = Field(default=["profit"], min_length=1, max_length=2)
    min_trades: int = Field(default=0, ge=0)
    space: dict[str, Any] = Field(default_factory=dict, description="As --space FILE holds it")
    seed: int | None = None
    walk_forward: str | None = Field(default=None, description="TRAIN:TEST, e.g. 3d:1d")


class OptimizationOut(BaseModel):
    """A search as the dashboard shows it (``OptimizationRun.as_json``)."""

    id: str
    study: str
    strategy: str
    product_id: str
    budget: str
    status: Literal["running", "done", "failed", "interrupted"]
    trials: int = Field(description="Finished trials in the study")
    trials_target: int
    best_value: float | None = Field(description="Best (first) objective value so far")
    best_params: dict[str, Any] | None
    result: dict[str, Any] | None = Field(description="The command's --json object once it ended")
    error: str
    report: str | None = Field(description="optimize.html on the server, once the search ended")
    started_at: float


class BotFromBestOut(BaseModel):
    id: int
    name: str
    state: str
    params: dict[str, Any]


class BotFromBest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


def _runs(request: Request) -> OptimizationRuns:
    runs: OptimizationRuns = request.app.state.optimizations
    return runs


def _refuse(loc: tuple[str, ...], message: str) -> NoReturn:
    raise unprocessable(("body", *loc), message)


def _check(body: OptimizationCreate, products: tuple[str, ...]) -> None:
    """The command's own checks, before a process is started: the same sentences."""
    from streambot.optimize.space import SpaceError, default_space, narrowed
    from streambot.optimize.walk_forward import WalkForwardError, parse_walk_forward
    from streambot.strategies.registry import StrategyError, get_spec

    try:
        spec = get_spec(body.strategy)
    except StrategyError as exc:
        _refuse(("strategy",), str(exc))
    if body.product_id not in products:
        _refuse(
            ("product_id",),
            f"unknown product {body.product_id!r}; this platform trades {', '.join(products)}",
        )
    space = default_space(spec)
    for name, given in body.space.items():
        try:
            space = narrowed(space, spec, name, given, f"space.{name}")
        except SpaceError as exc:
            _refuse(("space", name), str(exc))
    if body.walk_forward is not None:
        try:
            parse_walk_forward(body.walk_forward)
        except WalkForwardError as exc:
            _refuse(("walk_forward",), str(exc))
    if len(set(body.objectives)) != len(body.objectives):
        _refuse(("objectives",), "give one objective, or two different ones (NSGA-II)")
    for index, path in enumerate(body.data):
        if not Path(path).exists():
            _refuse(("data", str(index)), f"{path}: no such file or directory")


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=OptimizationOut)
async def start_optimization(
    body: OptimizationCreate, platform: Platform, request: Request
) -> dict[str, Any]:
    """Start a search; its progress comes as ``optimizations.progress`` events on /ws/status."""
    _check(body, tuple(platform.settings.products))
    runs = _runs(request)
    args: list[str] = []
    for path in body.data:
        args += ["--data", path]
    for objective in body.objectives:
        args += ["--objective", objective]
    args += ["--min-trades", str(body.min_trades)]
    if body.jobs is not None:
        args += ["--jobs", str(body.jobs)]
    if body.seed is not None:
        args += ["--seed", str(body.seed)]
    if body.walk_forward is not None:
        args += ["--walk-forward", body.walk_forward]
    run = await runs.start(
        strategy=body.strategy,
        product_id=body.product_id,
        budget=body.budget,
        trials=body.trials,
        args=args,
        space=orjson.dumps(body.space) if body.space else None,
    )
    return run.as_json()


@router.get("", response_model=list[OptimizationOut])
async def list_optimizations(request: Request) -> list[dict[str, Any]]:
    return [run.as_json() for run in sorted(_runs(request).runs.values(), key=lambda r: r.started_at)]


def _run(request: Request, optimization_id: str) -> OptimizationRun:
    run = _runs(request).runs.get(optimization_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no optimization {optimization_id!r}")
    return run


@router.get("/{optimization_id}", response_model=OptimizationOut)
async def get_optimization(optimization_id: str, request: Request) -> dict[str, Any]:
    return _run(request, optimization_id).as_json()


@router.post("/{optimization_id}/bots", status_code=status.HTTP_201_CREATED, response_model=BotFromBestOut)
async def bot_from_best(
    optimization_id: str, body: BotFromBest, request: Request, bots: Bots
) -> dict[str, Any]:
    """A stopped bot with the search's best parameters (as POST /bots checks bots)."""
    run = _run(request, optimization_id)
    best = (run.result or {}).get("best_params")
    if not best:
        raise HTTPException(status.HTTP_409_CONFLICT, "the search has no best parameters (yet)")
    try:
        record = await bots.create(
            name=body.name, strategy=run.strategy, product_id=run.product_id, params=best, budget=run.budget
        )
    except BotError as exc:
        raise unprocessable(("body", *exc.field.split(".")), str(exc)) from exc
    return {"id": record.id, "name": record.name, "state": record.state.value, "params": record.params}
