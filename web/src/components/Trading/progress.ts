// An order's steps from its lifecycle timestamps: signal → risk check → submitted → acknowledged → filled.
import type { OrderData } from "../../stream/frames";
import { isoToUnix } from "../../state/format";

export interface Step {
  key: string;
  label: string;
  state: "done" | "current" | "failed" | "pending";
  ms: number | null; // time this step took, from the previous step
}

const STEPS: [string, string, keyof OrderData][] = [
  ["signal", "signal", "created_at"],
  ["risk", "risk check", "risk_checked_at"],
  ["submitted", "submitted", "submitted_at"],
  ["acknowledged", "acknowledged", "acknowledged_at"],
  ["filled", "filled", "completed_at"],
];

const FAILED = new Set(["rejected", "failed", "cancelled"]);

/** Whether the order ended without filling. */
export function isFailed(status: string): boolean {
  return FAILED.has(status);
}

export function stepsOf(order: OrderData): Step[] {
  const times = STEPS.map(([, , field]) => isoToUnix(order[field] as string | null));
  // completed_at marks the end of a failed order too; it only means "filled" when filled.
  if (order.status !== "filled") times[4] = null;
  const failed = isFailed(order.status);
  // Turned down before it was sent: the risk check said no, whatever time it recorded for that.
  if (failed && order.status === "rejected" && times[2] === null) times[1] = null;
  let previous: number | null = null;
  let failedMarked = false;
  return STEPS.map(([key, label], i) => {
    const at = times[i] ?? null;
    let state: Step["state"];
    let ms: number | null = null;
    if (at !== null) {
      state = "done";
      if (previous !== null) ms = Math.max(0, (at - previous) * 1000);
      previous = at;
    } else if (failed && !failedMarked) {
      state = "failed";
      failedMarked = true;
    } else if (!failed && !failedMarked && times.slice(0, i).every((t) => t !== null)) {
      state = "current";
      failedMarked = true; // only one current step
    } else {
      state = "pending";
    }
    return { key, label, state, ms };
  });
}

export function totalMs(order: OrderData): number | null {
  const start = isoToUnix(order.created_at);
  const end = isoToUnix(order.completed_at);
  return start !== null && end !== null ? (end - start) * 1000 : null;
}
