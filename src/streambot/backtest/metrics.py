"""The figures a trader judges a backtest by, per bot and for all bots as one portfolio.

Computed from a :class:`~streambot.backtest.result.BacktestResult` alone. Money stays ``Decimal``
(quote currency); ratios and percentages are floats rounded to 6 decimals (``-0.0`` folded to
``0.0``), so the ``--json`` output and the report are byte-stable run to run. A ratio that is not
defined for the data (no closed trade, fewer than two returns, zero deviation…) is ``None``, never
0, NaN or infinity.

Time periods (day, ISO week, month) are UTC.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import groupby

import numpy as np
import numpy.typing as npt

from streambot.backtest.result import BacktestResult, BacktestTrade, BotResult, EquitySample

SECONDS_PER_YEAR = 365 * 86_400  # crypto trades every day of the year
RATIO_DECIMALS = 6
TOTAL_NAME = "total"

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PeriodRow:
    """One day, ISO week or month of a run: what was traded in it and the equity at its end."""

    period: str  # "2026-01-31", "2026-W05" or "2026-01"
    trades: int
    realized_pnl_quote: Decimal
    fees_quote: Decimal
    end_equity_quote: Decimal  # the last equity point (budget + P&L without points)


@dataclass(frozen=True, slots=True)
class BotMetrics:
    """A bot's (or the portfolio's) figures; each field's formula is in :func:`bot_metrics`."""

    name: str
    product_id: str
    budget_quote: Decimal
    trades: int
    closed: int
    wins: int
    draws: int
    losses: int
    win_rate: float | None  # a fraction, 0…1
    realized_pnl_quote: Decimal
    unrealized_pnl_quote: Decimal
    total_pnl_quote: Decimal
    total_pnl_pct: float | None  # percentages are 0…100 (and beyond)
    avg_profit_quote: Decimal | None
    avg_profit_pct: float | None
    fees_quote: Decimal
    max_drawdown_pct: float  # a fall, so ≥ 0: 12.5 means equity was 12.5 % below its peak
    max_drawdown_quote: Decimal
    max_drawdown_duration_s: float
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    profit_factor: float | None
    expectancy: Decimal | None
    exposure_pct: float | None  # None when the equity points span no time
    buy_and_hold_pct: float | None
    end_equity_quote: Decimal
    by_day: tuple[PeriodRow, ...]
    by_week: tuple[PeriodRow, ...]
    by_month: tuple[PeriodRow, ...]


def bot_metrics(bot: BotResult, result: BacktestResult) -> BotMetrics:
    """One bot's figures. With ``closed`` the sells and ``pnl_i`` a sell's ``realized_pnl``:

    - ``trades``: booked trades, buys and sells; ``closed``: sells; ``wins``/``draws``/``losses``:
      sells with ``pnl_i`` > 0, = 0, < 0; ``win_rate = wins / closed`` (None when none closed).
    - ``realized_pnl_quote``, ``unrealized_pnl_quote`` (the end position marked at the last price)
      and ``fees_quote`` as the run booked them; ``total_pnl_quote = realized + unrealized``;
      ``total_pnl_pct = 100 · total_pnl / budget``.
    - ``avg_profit_quote = expectancy = Σ pnl_i / closed``; ``avg_profit_pct`` is the mean over
      sells of ``100 · pnl_i / cost_i`` with ``cost_i = quote_i − fee_i − pnl_i`` (what the sold
      base cost, fees included: the average-cost basis ``realized_pnl`` was computed on).
    - ``profit_factor = Σ pnl_i>0 / |Σ pnl_i<0|`` (None without losses).
    - Drawdown on the equity points: ``dd_t = peak_t − equity_t`` with ``peak_t`` the running
      maximum; ``max_drawdown_quote = max dd_t``, ``max_drawdown_pct = max 100 · dd_t / peak_t``;
      ``max_drawdown_duration_s`` runs from the peak before the deepest (quote) drawdown (the
      first time that peak was reached) to the first point after the trough back at that peak, or
      to the last point if equity never got back.
    - Returns ``r_k = E_k / E_{k−1} − 1`` on the sample grid ``start + k · sample_s`` (equity as
      of each grid time; the budget before the first point), ``N = 365 · 86400 / sample_s``
      periods a year: ``sharpe = mean(r) / std(r, ddof=1) · √N``; ``sortino = mean(r) / DD · √N``
      with ``DD = √(mean(min(r, 0)²))``; ``calmar = CAGR / (max_drawdown_pct / 100)`` with
      ``CAGR = (E_n / E_0)^(N / n) − 1`` over the ``n`` returns. None with fewer than two returns
      or a zero denominator.
    - ``exposure_pct``: 100 · the time (between equity points) the bot held a position / the
      time its points span.
    - ``buy_and_hold_pct = 100 · (last price / first price − 1)`` of the bot's product.
    - ``by_day``, ``by_week``, ``by_month``: per UTC period with data, the trades booked in it, their
      realized P&L and fees, and the equity as of the period's end.
    """
    return _metrics(
        name=bot.name,
        product_id=bot.product_id,
        budget=bot.budget,
        trades=bot.trades,
        equity=bot.equity,
        realized=bot.realized_pnl,
        unrealized=bot.unrealized_pnl,
        fees=bot.fees,
        buy_and_hold_pct=_buy_and_hold(bot),
        result=result,
    )


def total_metrics(result: BacktestResult) -> BotMetrics:
    """All bots as one portfolio, with the same formulas as :func:`bot_metrics` on:

    - budgets, realized and unrealized P&L and fees summed; every bot's trades;
    - equity summed at every time any bot has a point (each bot's equity as of that time, its
      budget before its first point); the portfolio holds a position when any bot does;
    - ``buy_and_hold_pct`` the budget-weighted mean of the bots' (bots without prices left out).
    """
    bots = result.bots
    trades = sorted((t for b in bots for t in b.trades), key=lambda t: (t.time, t.bot, t.client_order_id))
    equity = portfolio_equity(result)
    weighted = [(_buy_and_hold(b), b.budget) for b in bots]
    known = [(pct, budget) for pct, budget in weighted if pct is not None]
    weight = sum((budget for _, budget in known), ZERO)
    buy_and_hold = (
        _ratio(sum(pct * float(budget) for pct, budget in known) / float(weight)) if weight > 0 else None
    )
    return _metrics(
        name=TOTAL_NAME,
        product_id=", ".join(sorted({b.product_id for b in bots})),
        budget=sum((b.budget for b in bots), ZERO),
        trades=trades,
        equity=equity,
        realized=sum((b.realized_pnl for b in bots), ZERO),
        unrealized=sum((b.unrealized_pnl for b in bots), ZERO),
        fees=sum((b.fees for b in bots), ZERO),
        buy_and_hold_pct=buy_and_hold,
        result=result,
    )


def portfolio_equity(result: BacktestResult) -> list[EquitySample]:
    """All bots' equity summed at every time any bot has a point: each bot's equity as of that
    time, its budget before its first point. ``position_base`` is 1 when any bot holds a position
    (the portfolio is exposed), else 0; ``price`` is 0 (bots trade different products)."""
    # One pass over the bots' points merged in time order, keeping each bot's latest equity and a
    # running sum: O(points · log bots), where looking every bot up at every time was O(points · bots).
    bots = result.bots
    latest = [b.budget for b in bots]
    holding = [False] * len(bots)
    value = sum(latest, ZERO)
    equity: list[EquitySample] = []
    merged = heapq.merge(
        *([(p.time, i, p) for p in b.equity] for i, b in enumerate(bots)), key=lambda e: e[0]
    )
    for t, group in groupby(merged, key=lambda e: e[0]):
        for _, i, p in group:
            value += p.equity - latest[i]
            latest[i] = p.equity
            holding[i] = p.position_base > 0
        equity.append(
            EquitySample(time=t, equity=value, position_base=Decimal(1 if any(holding) else 0), price=ZERO)
        )
    return equity


# The --json per-bot figures the issue names, in its order; json_figures() puts the rest after them.
JSON_KEYS = (
    "name",
    "trades",
    "realized_pnl_quote",
    "unrealized_pnl_quote",
    "fees_quote",
    "max_drawdown_pct",
    "sharpe",
    "sortino",
    "win_rate",
)


def json_figures(metrics: BotMetrics) -> dict[str, object]:
    """JSON-ready figures: the ``--json`` keys first, then every other field. Decimals become
    strings in plain notation (``"3600"``, never ``"3.6E+3"``), periods lists of objects."""
    out: dict[str, object] = {key: _json_value(getattr(metrics, key)) for key in JSON_KEYS}
    for name in BotMetrics.__dataclass_fields__:
        if name not in out:
            out[name] = _json_value(getattr(metrics, name))
    return out


def run_json(result: BacktestResult) -> dict[str, object]:
    """The ``--json`` output's ``bots`` (one :func:`json_figures` per bot, in the run's order) and
    ``total`` (all bots as one portfolio)."""
    return {
        "bots": [json_figures(bot_metrics(bot, result)) for bot in result.bots],
        "total": json_figures(total_metrics(result)),
    }


def plain(value: Decimal) -> str:
    """A decimal in plain notation, without a negative zero."""
    if value == 0:
        value = abs(value)
    return format(value, "f")


# ---- internals ------------------------------------------------------------------------------


def _metrics(
    *,
    name: str,
    product_id: str,
    budget: Decimal,
    trades: Sequence[BacktestTrade],
    equity: Sequence[EquitySample],
    realized: Decimal,
    unrealized: Decimal,
    fees: Decimal,
    buy_and_hold_pct: float | None,
    result: BacktestResult,
) -> BotMetrics:
    sells = [t for t in trades if t.side == "SELL"]
    pnls = [t.realized_pnl for t in sells]
    wins = sum(1 for p in pnls if p > 0)
    losses = sum(1 for p in pnls if p < 0)
    closed = len(sells)
    gross_win = sum((p for p in pnls if p > 0), ZERO)
    gross_loss = -sum((p for p in pnls if p < 0), ZERO)
    mean_pnl = sum(pnls, ZERO) / closed if closed else None
    pcts = [
        float(t.realized_pnl / cost) * 100 for t in sells if (cost := t.quote - t.fee - t.realized_pnl) > 0
    ]
    total = realized + unrealized
    curve = _Curve.of(equity)
    drawdown = _drawdown(curve)
    sharpe, sortino, calmar = _return_ratios(curve, budget, result, drawdown.pct)
    day_ends = _day_ends(curve)
    return BotMetrics(
        name=name,
        product_id=product_id,
        budget_quote=budget,
        trades=len(trades),
        closed=closed,
        wins=wins,
        draws=closed - wins - losses,
        losses=losses,
        win_rate=_ratio(wins / closed) if closed else None,
        realized_pnl_quote=realized,
        unrealized_pnl_quote=unrealized,
        total_pnl_quote=total,
        total_pnl_pct=_ratio(float(total / budget) * 100) if budget > 0 else None,
        avg_profit_quote=mean_pnl,
        avg_profit_pct=_ratio(math.fsum(pcts) / len(pcts)) if pcts else None,
        fees_quote=fees,
        max_drawdown_pct=_ratio(drawdown.pct) or 0.0,
        max_drawdown_quote=drawdown.quote,
        max_drawdown_duration_s=_ratio(drawdown.duration_s) or 0.0,
        sharpe=sharpe,
        sortino=sortino,
        calmar=calmar,
        profit_factor=_ratio(float(gross_win / gross_loss)) if gross_loss > 0 else None,
        expectancy=mean_pnl,
        exposure_pct=_exposure(curve),
        buy_and_hold_pct=buy_and_hold_pct,
        end_equity_quote=equity[-1].equity if equity else budget + total,
        by_day=_breakdown(trades, day_ends, budget, _day),
        by_week=_breakdown(trades, day_ends, budget, _iso_week),
        by_month=_breakdown(trades, day_ends, budget, _month),
    )


def _buy_and_hold(bot: BotResult) -> float | None:
    first_price = bot.first_price or (bot.equity[0].price if bot.equity else ZERO)
    last_price = bot.last_price or (bot.equity[-1].price if bot.equity else ZERO)
    return _ratio(float(last_price / first_price - 1) * 100) if first_price > 0 else None


def _ratio(value: float | None) -> float | None:
    """Rounded for byte-stable output; NaN and infinities are 'undefined'."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, RATIO_DECIMALS) + 0.0  # + 0.0 folds -0.0 into 0.0


@dataclass(frozen=True, slots=True)
class _Curve:
    """The equity points as arrays, converted once: time, equity as a float (for ratios, never for
    money figures), and whether a position was held."""

    points: Sequence[EquitySample]
    times: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]
    held: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, points: Sequence[EquitySample]) -> _Curve:
        n = len(points)
        return cls(
            points=points,
            times=np.fromiter((p.time for p in points), np.float64, n),
            values=np.fromiter((float(p.equity) for p in points), np.float64, n),
            held=np.fromiter((p.position_base > 0 for p in points), np.bool_, n),
        )


@dataclass(frozen=True, slots=True)
class _Drawdown:
    pct: float
    quote: Decimal
    duration_s: float


def _drawdown(curve: _Curve) -> _Drawdown:
    values = curve.values
    if not len(values):
        return _Drawdown(0.0, ZERO, 0.0)
    peaks = np.maximum.accumulate(values)
    falls = peaks - values
    trough = int(np.argmax(falls))
    if falls[trough] <= 0:
        return _Drawdown(0.0, ZERO, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = float(np.max(np.where(peaks > 0, falls / peaks, 0.0))) * 100
    peak = int(np.argmax(values[: trough + 1]))  # the first time that peak was reached
    # The figure in quote is exact: the two points' Decimal equity.
    quote = curve.points[peak].equity - curve.points[trough].equity
    back = np.flatnonzero(values[trough + 1 :] >= values[peak])
    recovered = curve.times[trough + 1 + int(back[0])] if len(back) else curve.times[-1]
    return _Drawdown(pct, quote, float(recovered - curve.times[peak]))


def _grid_equity(curve: _Curve, budget: Decimal, result: BacktestResult) -> npt.NDArray[np.float64]:
    """Equity as of each time ``start + k · sample_s`` up to ``end`` (a trailing partial step is
    left out so every return covers the same time)."""
    if result.sample_s <= 0 or result.end <= result.start or not len(curve.values):
        return np.empty(0)
    steps = int((result.end - result.start) // result.sample_s)
    grid = result.start + np.arange(steps + 1, dtype=np.float64) * result.sample_s
    index = np.searchsorted(curve.times, grid, side="right") - 1
    return np.where(index >= 0, curve.values[np.maximum(index, 0)], float(budget))


def _return_ratios(
    curve: _Curve, budget: Decimal, result: BacktestResult, max_drawdown_pct: float
) -> tuple[float | None, float | None, float | None]:
    values = _grid_equity(curve, budget, result)
    if len(values) < 3 or np.any(values[:-1] <= 0):
        return None, None, None
    # Element-wise numpy, sums with math.fsum: correctly rounded whatever the order or the CPU's
    # vector width, so the figures are the same bytes on any machine.
    returns = values[1:] / values[:-1] - 1.0
    n = len(returns)
    periods = SECONDS_PER_YEAR / result.sample_s
    mean = math.fsum(returns.tolist()) / n
    std = math.sqrt(math.fsum(((returns - mean) ** 2).tolist()) / (n - 1))
    downside = math.sqrt(math.fsum((np.minimum(returns, 0.0) ** 2).tolist()) / n)
    scale = math.sqrt(periods)
    sharpe = _ratio(mean / std * scale) if std > 0 else None
    sortino = _ratio(mean / downside * scale) if downside > 0 else None
    calmar = None
    if max_drawdown_pct > 0 and values[0] > 0:
        try:
            # Python floats: an overflow raises instead of numpy's warning and inf.
            cagr = (float(values[-1]) / float(values[0])) ** (periods / n) - 1.0
        except OverflowError:  # a huge gain over a tiny span: no meaningful annual figure
            cagr = math.inf
        calmar = _ratio(cagr / (max_drawdown_pct / 100))
    return sharpe, sortino, calmar


def _exposure(curve: _Curve) -> float | None:
    times = curve.times
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    held = math.fsum(np.diff(times)[curve.held[:-1]].tolist())
    return _ratio(held / float(times[-1] - times[0]) * 100)


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _day(t: float) -> str:
    return _utc(t).strftime("%Y-%m-%d")


def _iso_week(t: float) -> str:
    year, week, _ = _utc(t).isocalendar()
    return f"{year:04d}-W{week:02d}"


def _month(t: float) -> str:
    return _utc(t).strftime("%Y-%m")


def _day_ends(curve: _Curve) -> list[EquitySample]:
    """The last point of each UTC day: periods are whole days, so these carry every period's end
    equity (a few hundred points where a run has ~100k)."""
    if not len(curve.times):
        return []
    days = np.floor_divide(curve.times, 86_400.0)
    last = np.append(np.flatnonzero(np.diff(days)), len(days) - 1)
    return [curve.points[int(i)] for i in last]


def _breakdown(
    trades: Sequence[BacktestTrade],
    day_ends: Sequence[EquitySample],
    budget: Decimal,
    key: Callable[[float], str],
) -> tuple[PeriodRow, ...]:
    # Period keys sort in time order (zero-padded, ISO year with ISO week), and both inputs are in
    # time order, so the last day end seen in a period is its end equity.
    counts: dict[str, int] = {}
    realized: dict[str, Decimal] = {}
    fees: dict[str, Decimal] = {}
    end: dict[str, Decimal] = {}
    for trade in trades:
        period = key(trade.time)
        counts[period] = counts.get(period, 0) + 1
        realized[period] = realized.get(period, ZERO) + trade.realized_pnl
        fees[period] = fees.get(period, ZERO) + trade.fee
    for point in day_ends:
        end[key(point.time)] = point.equity
    rows: list[PeriodRow] = []
    carried = budget
    for period in sorted(counts.keys() | end.keys()):
        carried = end.get(period, carried)
        rows.append(
            PeriodRow(
                period=period,
                trades=counts.get(period, 0),
                realized_pnl_quote=realized.get(period, ZERO),
                fees_quote=fees.get(period, ZERO),
                end_equity_quote=carried,
            )
        )
    return tuple(rows)


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, PeriodRow):
        return {name: _json_value(getattr(value, name)) for name in PeriodRow.__dataclass_fields__}
    return value


# ---- for people (terminal summary and HTML report) -------------------------------------------


def money_text(value: Decimal | None) -> str:
    """Quote money for reading: cents with thousands separators from 1 up, else up to 6 decimals
    (a fee of 0.0012 stays visible)."""
    if value is None:
        return "–"
    if value == 0:
        return "0.00"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return plain(value.quantize(Decimal("0.000001")).normalize())


def pct_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} %"


def ratio_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def duration_text(seconds: float) -> str:
    """``3d 04:05:06`` or ``04:05:06``."""
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def time_text(t: float) -> str:
    """A data time in UTC, to the second (ISO 8601)."""
    return _utc(t).strftime("%Y-%m-%d %H:%M:%S")
