// Backtest runs' live updates (backtests.* events of the status socket), for whichever page shows
// them: the controller hands each event here, the Backtests page listens while it is open.
export type BacktestState = "queued" | "running" | "done" | "failed" | "cancelled";

export interface BacktestUpdate {
  backtest_id: number;
  state: BacktestState;
  ticks?: number;
  at?: number | null;
  ticks_per_s?: number;
  error?: string | null;
}

type Listener = (update: BacktestUpdate) => void;
const listeners = new Set<Listener>();

export function onBacktestUpdate(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function publishBacktestUpdate(update: BacktestUpdate): void {
  for (const listener of listeners) listener(update);
}
