"""``streambot backtest``: the run with a progress bar, then the summary, the report and the JSON.

The progress bar and the summary go to stderr when ``--json`` is given, so stdout carries the one
JSON object (its last line) and nothing a script would have to skip.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from streambot.backtest.compare import Session, compare, print_comparison
from streambot.backtest.engine import BacktestConfig, BotFileError
from streambot.backtest.html_report import write_report
from streambot.backtest.json_summary import iso, json_summary
from streambot.backtest.progress_json import ProgressLines
from streambot.backtest.result import BacktestResult
from streambot.backtest.run import BacktestError, BacktestRequest, ProductRules, run_backtest
from streambot.backtest.sources import BacktestData, DataSourceError
from streambot.backtest.terminal import print_summary
from streambot.bots import BotCreate
from streambot.domain import COINBASE_ENTRY_TIER, FeeTier
from streambot.observability.logging import quieter


def parse_time(text: str, flag: str) -> float:
    """UNIX seconds, or an ISO 8601 date or time (UTC unless it says otherwise)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{flag} {text!r} is neither UNIX seconds nor an ISO date/time such as 2026-01-31 or "
            "2026-01-31T12:00:00Z"
        ) from None
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()


def parse_fees(text: str | None) -> FeeTier:
    """``--fees maker,taker`` (fractions: 0.012 is 1.2 %); Coinbase's entry tier when not given."""
    if text is None:
        return COINBASE_ENTRY_TIER
    maker_text, sep, taker_text = text.partition(",")
    if not sep:
        raise ValueError(f"--fees {text!r}: give maker,taker rates as fractions, e.g. 0.006,0.012")
    try:
        maker, taker = Decimal(maker_text.strip()), Decimal(taker_text.strip())
    except InvalidOperation:
        raise ValueError(f"--fees {text!r}: not two numbers") from None
    if not (0 <= maker < Decimal("0.5") and 0 <= taker < Decimal("0.5")):
        raise ValueError(f"--fees {text!r}: rates are fractions between 0 and 0.5 (0.012 is 1.2 %)")
    return FeeTier(maker, taker)


def parse_window(start: str | None, end: str | None) -> tuple[float | None, float | None]:
    """``--from`` / ``--to`` as UNIX seconds (None where not given)."""
    return (
        parse_time(start, "--from") if start is not None else None,
        parse_time(end, "--to") if end is not None else None,
    )


class _Bar:
    """A rich progress bar over data time when the span is known, ticks/s always."""

    def __init__(self, console: Console, start: float | None, end: float | None) -> None:
        self._progress = Progress(
            TextColumn("[bold]backtest"),
            BarColumn(),
            TextColumn(
                "{task.fields[ticks]:>12,} ticks  {task.fields[rate]:>9,.0f} ticks/s  {task.fields[at]}"
            ),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._start, self._end = start, end
        self._task: TaskID | None = None
        self._first: float | None = None
        self._began = 0.0

    def __enter__(self) -> _Bar:
        self._progress.__enter__()
        total = (self._end - self._start) if self._start is not None and self._end is not None else None
        self._task = self._progress.add_task("replay", total=total, ticks=0, rate=0.0, at="")
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None and self._task is not None:
            total = self._progress.tasks[0].total
            if total is not None:  # the data ended: the bar says done, whatever the span hint said
                self._progress.update(self._task, completed=total)
        self._progress.__exit__(None, None, None)

    def update(self, ticks: int, at: float) -> None:
        assert self._task is not None
        if self._first is None:
            self._first = self._start if self._start is not None else at
        elapsed = self._progress.tasks[0].elapsed or 0.0
        self._progress.update(
            self._task,
            completed=at - self._first,
            ticks=ticks,
            rate=ticks / elapsed if elapsed > 0 else 0.0,
            at=iso(at)[:19],
        )


def backtest_command(
    *,
    data: list[str],
    bots: list[BotCreate],
    config: BacktestConfig,
    rules: ProductRules,
    start: float | None,
    end: float | None,
    as_json: bool,
    report_dir: Path | None,
    session: Session | None = None,
    save: str | None = None,
    progress_json: bool = False,
) -> int:
    """Run, print, write; the exit status (0, or 2 for input the run refused)."""
    console = Console(stderr=as_json)
    errors = Console(stderr=True)
    request = BacktestRequest(data=data, bots=bots, start=start, end=end, config=config, save=save)
    try:
        span = BacktestData.open(data, start, end).span_hint()
    except DataSourceError:
        span = None  # the run says what is wrong with the paths
    try:
        # A program reading the progress (the API's worker) gets JSON lines; a person, the bar.
        window = span if span is not None else (start, end)
        reporter: ProgressLines | _Bar = ProgressLines() if progress_json else _Bar(errors, *window)
        # Each refused signal is logged live; in a replay of millions of ticks that is noise the
        # summary already counts (rejected), so only errors are shown while it runs.
        with reporter as bar, quieter(logging.ERROR):
            result = asyncio.run(run_backtest(request, rules, bar.update))
    except (BacktestError, BotFileError) as exc:
        errors.print(f"[red]streambot: {exc}[/red]")
        return 2
    print_summary(result, console)
    if save is not None:
        console.print(f"💾 Saved the run's bots, orders, fills and trades to {save}")
    if report_dir is not None:
        page = write_report(result, report_dir)
        console.print(f"📄 Report: {page}")
    summary = json_summary(result)
    if session is not None:
        comparison = compare(session, result)
        print_comparison(comparison, console)
        summary["compare"] = comparison.as_json()
    if as_json:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        sys.stdout.flush()
    return 0


__all__ = ["BacktestResult", "backtest_command", "parse_fees", "parse_time", "parse_window"]
