// Candles built from ticks in the browser, seeded from the server's candles where it keeps them.
import type { Schemas } from "../../api/client";

export interface Bar {
  time: number; // bucket start, unix s
  open: number;
  high: number;
  low: number;
  close: number;
}

export const TIMEFRAMES: Record<string, number> = { "10s": 10, "1m": 60, "5m": 300, "15m": 900, "1h": 3600 };
export type ServerTimeframe = "1m" | "5m" | "15m" | "1h";

/** Whether the server keeps candles of this length (the rest are built from ticks in the page). */
export function onServer(timeframe: string): timeframe is ServerTimeframe {
  return timeframe === "1m" || timeframe === "5m" || timeframe === "15m" || timeframe === "1h";
}

export function bucket(time: number, seconds: number): number {
  return Math.floor(time / seconds) * seconds;
}

/** Fold one price into the bars (oldest first); returns the bar that changed. */
export function addTick(bars: Bar[], time: number, price: number, seconds: number, keep = 500): Bar {
  const start = bucket(time, seconds);
  const last = bars[bars.length - 1];
  if (last && last.time === start) {
    last.high = Math.max(last.high, price);
    last.low = Math.min(last.low, price);
    last.close = price;
    return last;
  }
  if (last && start < last.time) {
    // A late tick for an older bucket only moves the close of the bar it belongs to, if we have it.
    return last;
  }
  const bar = { time: start, open: price, high: price, low: price, close: price };
  bars.push(bar);
  if (bars.length > keep) bars.splice(0, bars.length - keep);
  return bar;
}

/** Bars (oldest first) from the candles of `GET /api/v1/market/candles`. */
export function barsFrom(candles: Schemas["CandleOut"][]): Bar[] {
  return candles
    .map(({ start, open, high, low, close }) => ({ time: start, open, high, low, close }))
    .sort((a, b) => a.time - b.time);
}
