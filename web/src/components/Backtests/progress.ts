// How far a backtest run is, for its progress bar: a fraction when the data span is known (the
// run's from/to), null when only the ticks so far are (the bar then shows activity, not a share).
import type { Schemas } from "../../api/client";
import { isoToUnix } from "../../state/format";

export type Backtest = Schemas["BacktestOut"];

export function progressFraction(run: Backtest): number | null {
  if (run.state === "done") return 1;
  if (run.state !== "running") return null;
  const start = isoToUnix(run.start);
  const end = isoToUnix(run.end);
  const at = isoToUnix(run.progress.at);
  if (start === null || end === null || at === null || end <= start) return null;
  return Math.min(1, Math.max(0, (at - start) / (end - start)));
}

export function isActive(run: Backtest): boolean {
  return run.state === "queued" || run.state === "running";
}

/** A drawdown is a size, not a gain: "9.95%", never "+9.95%". */
export function drawdown(pct: number | null): string {
  return pct === null ? "—" : `${pct.toFixed(2)}%`;
}
