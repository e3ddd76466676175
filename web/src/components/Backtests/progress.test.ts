import { describe, expect, it } from "vitest";
import { type Backtest, progressFraction } from "./progress";

function run(over: Partial<Backtest>): Backtest {
  return {
    id: 1,
    state: "running",
    created: "2026-01-01T00:00:00Z",
    started: null,
    finished: null,
    bot_id: null,
    bots: [],
    data: [],
    start: null,
    end: null,
    progress: { ticks: 0, at: null, ticks_per_s: 0 },
    figures: {},
    error: null,
    report_url: null,
    ...over,
  };
}

describe("progressFraction", () => {
  it("is the share of the from/to span the replay reached", () => {
    const r = run({ start: "2026-01-01T00:00:00Z", end: "2026-01-01T01:00:00Z", progress: { ticks: 9, at: "2026-01-01T00:15:00Z", ticks_per_s: 1 } });
    expect(progressFraction(r)).toBeCloseTo(0.25);
  });
  it("is unknown without a span, full once done", () => {
    expect(progressFraction(run({ progress: { ticks: 9, at: "2026-01-01T00:15:00Z", ticks_per_s: 1 } }))).toBeNull();
    expect(progressFraction(run({ state: "done" }))).toBe(1);
    expect(progressFraction(run({ state: "failed" }))).toBeNull();
  });
});
