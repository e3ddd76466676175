// A search's place in the list: its live progress patched in from the status socket's
// optimizations.progress events, how far it is, and its figures as the page prints them.
import type { Schemas } from "../../api/client";
import type { OptimizationProgress } from "../../state/optimizations";

export type Optimization = Schemas["OptimizationOut"];

export const OBJECTIVES = ["profit", "sharpe", "sortino", "calmar", "profit_drawdown"] as const;
export type Objective = (typeof OBJECTIVES)[number];

/** The run with an event's figures; an event never takes a finished run back to running. */
export function withProgress(run: Optimization, update: OptimizationProgress): Optimization {
  if (run.id !== update.optimization_id) return run;
  if (run.status !== "running" && update.status === "running") return run;
  return {
    ...run,
    status: update.status,
    trials: update.trials,
    trials_target: update.trials_target,
    best_value: update.best_value ?? run.best_value,
  };
}

/** Finished trials over the target, 0…1 (a resumed study may already hold more than the target). */
export function trialsFraction(run: Pick<Optimization, "status" | "trials" | "trials_target">): number {
  if (run.status === "done") return 1;
  if (run.trials_target <= 0) return 0;
  return Math.min(1, Math.max(0, run.trials / run.trials_target));
}

/** An objective's value: a profit in quote currency or a ratio, four significant digits. */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return Math.abs(value) >= 1000 ? value.toFixed(0) : value.toPrecision(4).replace(/\.?0+$/, "");
}

/** A parameter's value as the bot form would show it. */
export function formatParam(value: unknown): string {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, "");
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** The search space textarea: empty means the strategy's own; otherwise a JSON object. */
export function parseSpace(text: string): Record<string, unknown> {
  if (!text.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`space: not JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new Error('space: give a JSON object, e.g. {"fast": {"low": 5, "high": 30}}');
  return parsed as Record<string, unknown>;
}
