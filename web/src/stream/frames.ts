// Frames of the dashboard WebSockets (docs/contracts.md, "Dashboard WebSockets").

export interface TickerFrame {
  type: "ticker";
  product_id: string;
  price: number;
  best_bid: number;
  best_ask: number;
  volume_24h: number;
  low_24h: number;
  high_24h: number;
  price_change_pct_24h: number;
  time: number;
}

/** A client's window of tickers: the newest of every product whose price changed, one socket write. */
export interface TickersFrame {
  type: "tickers";
  tickers: Omit<TickerFrame, "type">[];
}

export interface EventFrame {
  type: "event";
  id: number;
  topic: string;
  ts: number;
  data: Record<string, unknown>;
}

export interface StatusFrame {
  type: "status";
  feed: Record<string, unknown>;
  health: Record<string, unknown>;
  metrics: Record<string, unknown>;
  /** Why entries are refused now ("feed not live"), null when they are not. */
  entries_blocked?: string | null;
  /** Whose market the prices are: "simulator" or "coinbase". */
  market?: string;
  mode?: string;
}

/** One platform log record, as GET /api/v1/logs lists them and the logs channel pushes them. */
export interface LogFrame {
  type: "log";
  entry: { id: number; ts: number; level: string; logger: string; message: string };
}

export interface HelloFrame {
  type: "hello";
  channel: string;
  server_time: number;
  last_event_id: number;
}

export type Frame =
  | TickersFrame
  | EventFrame
  | StatusFrame
  | HelloFrame
  | LogFrame
  | { type: "reset" }
  | { type: "ping" };

/** An order as carried by `orders.<status>` events (decimals as strings, times ISO 8601 UTC). */
export interface OrderData {
  client_order_id: string;
  bot_id: number;
  product_id: string;
  side: string;
  status: string;
  reason: string;
  quote_size: string | null;
  base_size: string | null;
  limit_price: string | null;
  exchange_order_id: string | null;
  error: string | null;
  error_code: string | null;
  filled_size: string | null;
  average_price: string | null;
  filled_value: string | null;
  fees: string | null;
  created_at: string | null;
  risk_checked_at: string | null;
  submitted_at: string | null;
  acknowledged_at: string | null;
  completed_at: string | null;
}

export function parseFrame(text: string): Frame | null {
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === "object" && typeof (value as { type?: unknown }).type === "string") {
      return value as Frame;
    }
  } catch {
    // fall through: a frame we cannot read is ignored rather than breaking the stream
  }
  return null;
}
