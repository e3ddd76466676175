import { describe, expect, it } from "vitest";
import type { OrderData } from "../../stream/frames";
import { stepsOf } from "./progress";

const base: OrderData = {
  client_order_id: "c1",
  bot_id: 1,
  product_id: "BTC-USD",
  side: "BUY",
  status: "filled",
  reason: "",
  quote_size: "100",
  base_size: null,
  limit_price: null,
  exchange_order_id: null,
  error: null,
  error_code: null,
  filled_size: null,
  average_price: null,
  filled_value: null,
  fees: null,
  created_at: "2026-01-01T00:00:00.000Z",
  risk_checked_at: "2026-01-01T00:00:00.002Z",
  submitted_at: "2026-01-01T00:00:00.010Z",
  acknowledged_at: "2026-01-01T00:00:00.025Z",
  completed_at: "2026-01-01T00:00:00.030Z",
};

describe("stepsOf", () => {
  it("gives each step the milliseconds since the previous one", () => {
    const steps = stepsOf(base);
    expect(steps.map((s) => s.state)).toEqual(["done", "done", "done", "done", "done"]);
    expect(steps.map((s) => (s.ms === null ? null : Math.round(s.ms)))).toEqual([null, 2, 8, 15, 5]);
  });

  it("marks where a failed order stopped", () => {
    const steps = stepsOf({ ...base, status: "failed", acknowledged_at: null });
    expect(steps.map((s) => s.state)).toEqual(["done", "done", "done", "failed", "pending"]);
  });

  it("blames the risk check for an order rejected before it was sent", () => {
    const steps = stepsOf({ ...base, status: "rejected", submitted_at: null, acknowledged_at: null, error: "daily loss limit" });
    expect(steps.map((s) => s.state)).toEqual(["done", "failed", "pending", "pending", "pending"]);
  });

  it("shows the step an order in flight is waiting on", () => {
    const steps = stepsOf({ ...base, status: "submitted", acknowledged_at: null, completed_at: null });
    expect(steps.map((s) => s.state)).toEqual(["done", "done", "done", "current", "pending"]);
  });
});
