import { describe, expect, it } from "vitest";
import { formatParam, formatValue, type Optimization, parseSpace, trialsFraction, withProgress } from "./progress";

const run = {
  id: "abc",
  study: "api-abc",
  strategy: "ema_crossover",
  product_id: "BTC-USD",
  budget: "1000",
  status: "running",
  trials: 1,
  trials_target: 4,
  best_value: null,
  best_params: null,
  result: null,
  error: "",
  report: null,
  started_at: 0,
} satisfies Optimization;

describe("optimization progress", () => {
  it("patches its own run from an event, keeping the best value when the event has none", () => {
    const moved = withProgress(run, { optimization_id: "abc", status: "running", trials: 3, trials_target: 4, best_value: 12.5 });
    expect(moved.trials).toBe(3);
    expect(moved.best_value).toBe(12.5);
    expect(withProgress(moved, { optimization_id: "abc", status: "running", trials: 4, trials_target: 4 }).best_value).toBe(12.5);
    expect(withProgress(run, { optimization_id: "other", status: "done", trials: 9, trials_target: 9 })).toBe(run);
  });

  it("never takes a finished run back to running (a late poll event)", () => {
    const done = { ...run, status: "done" as const, trials: 4 };
    expect(withProgress(done, { optimization_id: "abc", status: "running", trials: 3, trials_target: 4 })).toBe(done);
  });

  it("measures trials against the target, capped, and full once done", () => {
    expect(trialsFraction(run)).toBe(0.25);
    expect(trialsFraction({ ...run, trials: 9 })).toBe(1);
    expect(trialsFraction({ ...run, status: "done", trials: 2 })).toBe(1);
    expect(trialsFraction({ ...run, trials_target: 0 })).toBe(0);
  });

  it("prints values and parameters briefly", () => {
    expect(formatValue(null)).toBe("—");
    expect(formatValue(12.3456789)).toBe("12.35");
    expect(formatValue(-0.5)).toBe("-0.5");
    expect(formatValue(12345.6)).toBe("12346");
    expect(formatParam(7)).toBe("7");
    expect(formatParam(0.0250000001)).toBe("0.025");
    expect(formatParam(true)).toBe("true");
  });

  it("reads the search space as a JSON object, with the field named when it is not one", () => {
    expect(parseSpace("  ")).toEqual({});
    expect(parseSpace('{"fast": {"low": 3, "high": 8}}')).toEqual({ fast: { low: 3, high: 8 } });
    expect(() => parseSpace("[1]")).toThrow(/^space: give a JSON object/);
    expect(() => parseSpace("{fast")).toThrow(/^space: not JSON/);
  });
});
