"""What an optimisation shows besides the best run's backtest report: parameter importance, the
optimisation history and the parallel coordinates of the trials, as PNG (Optuna's matplotlib
plots) and one self-contained ``optimize.html`` (the PNGs embedded, no script from the network)
that links the best parameters' full backtest report beside it."""

from __future__ import annotations

import base64
import html
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit in worker processes

import matplotlib.pyplot as plt
import optuna
from matplotlib.figure import Figure

PLOTS = ("history", "parallel", "importance")


def importance(study: optuna.Study) -> dict[str, float]:
    """Each searched parameter's share of the (first) objective's variance (fANOVA); empty with
    fewer than two completed trials or nothing that varied."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(study, target=_first(study))
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}
    return {name: round(float(value), 4) for name, value in found.items()}


def _first(study: optuna.Study) -> Any:
    if len(study.directions) > 1:
        return lambda trial: trial.values[0]
    return None


def write_plots(study: optuna.Study, directory: Path, objective: str) -> dict[str, Path]:
    """The PNGs that could be drawn (a plot needs completed trials), by name."""
    from optuna.visualization import matplotlib as vis

    directory.mkdir(parents=True, exist_ok=True)
    target = _first(study)
    drawn: dict[str, Path] = {}
    makers = {
        "history": lambda: vis.plot_optimization_history(study, target=target, target_name=objective),
        "parallel": lambda: vis.plot_parallel_coordinate(study, target=target, target_name=objective),
        "importance": lambda: vis.plot_param_importances(study, target=target, target_name=objective),
    }
    for name, make in makers.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes: Any = make()  # type: ignore[no-untyped-call]
        except (RuntimeError, ValueError, ZeroDivisionError, IndexError):
            plt.close("all")
            continue
        # A plot is one Axes, or an array of them (one per parameter); either way one Figure.
        first: Any = axes if hasattr(axes, "figure") else axes.flat[0]
        figure: Figure = first.figure
        path = directory / f"optimize-{name}.png"
        figure.set_size_inches(10, 5)
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        drawn[name] = path
    plt.close("all")
    return drawn


def write_page(
    directory: Path,
    *,
    summary: Mapping[str, Any],
    plots: Mapping[str, Path],
    backtest_report: Path | None,
    walk_forward: Sequence[Mapping[str, Any]] = (),
) -> Path:
    e = html.escape
    rows = "".join(
        f"<tr><th>{e(str(name))}</th><td>{e(str(value))}</td></tr>"
        for name, value in (summary.get("best_params") or {}).items()
    )
    shares = "".join(
        f"<tr><th>{e(name)}</th><td>{value:.1%}</td></tr>"
        for name, value in summary.get("importance", {}).items()
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>streambot optimize</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;"
        "text-align:left}img{max-width:100%}</style></head><body>",
        f"<h1>Optimisation: {e(str(summary.get('strategy')))} on {e(str(summary.get('product')))}</h1>",
        f"<p>Study <code>{e(str(summary.get('study')))}</code>; "
        f"objective {e(str(summary.get('objective')))}; "
        f"{summary.get('trials')} trials in this run, {summary.get('trials_total')} in the study.</p>",
        f"<h2>Best parameters (value {e(str(summary.get('best_value')))})</h2><table>{rows}</table>",
    ]
    if backtest_report is not None:
        parts.append(
            f"<p><a href='{e(backtest_report.name)}'>Full backtest report of the best parameters</a></p>"
        )
    if shares:
        parts.append(f"<h2>Parameter importance</h2><table>{shares}</table>")
    if walk_forward:
        parts.append(
            "<h2>Walk-forward</h2><table><tr><th>window</th><th>train</th><th>test</th>"
            "<th>in-sample</th><th>out-of-sample</th><th>parameters</th></tr>"
        )
        for row in walk_forward:
            parts.append(
                f"<tr><td>{row['window']}</td><td>{e(' → '.join(row['train']))}</td>"
                f"<td>{e(' → '.join(row['test']))}</td><td>{e(str(row['in_sample']))}</td>"
                f"<td>{e(str(row['out_of_sample']))}</td><td>{e(str(row['params']))}</td></tr>"
            )
        parts.append("</table>")
    for name in PLOTS:
        path = plots.get(name)
        if path is not None:
            data = base64.b64encode(path.read_bytes()).decode()
            parts.append(
                f"<h2>{e(name.capitalize())}</h2><img alt='{e(name)}' src='data:image/png;base64,{data}'>"
            )
    parts.append("</body></html>")
    page = directory / "optimize.html"
    page.write_text("\n".join(parts), encoding="utf-8")
    return page


__all__ = ["importance", "write_page", "write_plots"]
