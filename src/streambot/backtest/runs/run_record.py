"""One backtest run as the API lists it, and its folder: request.json, state.json, summary.json, report/.

The files are the record: a restart lists every run again from them. They are small and written
whole into a temporary file first, so a crash never leaves half a JSON file behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from streambot.runs.files import write_json

RunState = Literal["queued", "running", "done", "failed", "cancelled"]
ACTIVE_STATES: frozenset[RunState] = frozenset({"queued", "running"})

REQUEST_FILE = "request.json"
STATE_FILE = "state.json"
SUMMARY_FILE = "summary.json"
BOTS_FILE = "bots.json"
REPORT_DIR = "report"

# The figures of the summary's ``total`` shown in the list (the full summary is one GET away).
LISTED_FIGURES = (
    "trades",
    "total_pnl_quote",
    "total_pnl_pct",
    "realized_pnl_quote",
    "fees_quote",
    "win_rate",
    "max_drawdown_pct",
    "sharpe",
    "buy_and_hold_pct",
)


@dataclass(slots=True)
class BacktestRun:
    """What the list shows of a run; ``request`` is what was asked, as the API took it."""

    id: int
    created: float  # UNIX seconds
    request: dict[str, Any]
    state: RunState = "queued"
    started: float | None = None
    finished: float | None = None
    ticks: int = 0
    at: float | None = None  # the data time the replay reached
    ticks_per_s: int = 0
    error: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def state_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "started": self.started,
            "finished": self.finished,
            "ticks": self.ticks,
            "at": self.at,
            "ticks_per_s": self.ticks_per_s,
            "error": self.error,
            "figures": self.figures,
        }


def figures_of(summary: dict[str, Any]) -> dict[str, Any]:
    total = summary.get("total")
    figures: dict[str, Any] = {"ticks": summary.get("ticks"), "orders": summary.get("orders")}
    if isinstance(total, dict):
        figures.update({name: total.get(name) for name in LISTED_FIGURES})
    figures["candle_derived"] = summary.get("candle_derived")
    figures["skipped"] = len(summary.get("skipped") or ())
    return figures


def save_request(folder: Path, run: BacktestRun) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / REQUEST_FILE, {"id": run.id, "created": run.created, **run.request})
    write_json(folder / BOTS_FILE, run.request["bots"])
    write_json(folder / STATE_FILE, run.state_json())


def save_state(folder: Path, run: BacktestRun) -> None:
    write_json(folder / STATE_FILE, run.state_json())


def load_runs(root: Path) -> list[BacktestRun]:
    """Every run kept under ``root``, oldest first; a folder whose files cannot be read is skipped."""
    runs: list[BacktestRun] = []
    if not root.is_dir():
        return runs
    for folder in root.iterdir():
        if not folder.name.isdigit() or not (folder / REQUEST_FILE).is_file():
            continue
        try:
            request = orjson.loads((folder / REQUEST_FILE).read_bytes())
            state_path = folder / STATE_FILE
            state = orjson.loads(state_path.read_bytes()) if state_path.is_file() else {}
        except (OSError, orjson.JSONDecodeError):
            continue
        run_id = int(request.pop("id", folder.name))
        created = float(request.pop("created", 0.0))
        runs.append(
            BacktestRun(
                id=run_id,
                created=created,
                request=request,
                state=state.get("state", "queued"),
                started=state.get("started"),
                finished=state.get("finished"),
                ticks=int(state.get("ticks") or 0),
                at=state.get("at"),
                ticks_per_s=int(state.get("ticks_per_s") or 0),
                error=state.get("error"),
                figures=state.get("figures") or {},
            )
        )
    runs.sort(key=lambda run: run.id)
    return runs
