// Candles built from ticks in the browser, optionally seeded from the server's closed candles.

export interface Bar {
  time: number; // bucket start, unix s
  open: number;
  high: number;
  low: number;
  close: number;
}

export const TIMEFRAMES: Record<string, number> = { "10s": 10, "1m": 60, "5m": 300, "15m": 900, "1h": 3600 };
/** Timeframes the server keeps candles for (the rest are built from ticks in the page). */
export const SERVER_TIMEFRAMES = new Set(["1m", "5m", "15m", "1h"]);

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

/** Candles from `GET /api/v1/market/candles`, in whichever field names it uses. */
export function barsFrom(body: unknown): Bar[] {
  const list = Array.isArray(body)
    ? body
    : body && typeof body === "object"
      ? ((body as Record<string, unknown>).candles ?? [])
      : [];
  if (!Array.isArray(list)) return [];
  const bars: Bar[] = [];
  for (const raw of list as Record<string, unknown>[]) {
    const start = raw.time ?? raw.start ?? raw.start_time ?? raw.open_time;
    const time = typeof start === "string" && !/^\d+$/.test(start) ? Date.parse(start) / 1000 : Number(start);
    const bar = {
      time: Math.floor(time),
      open: Number(raw.open),
      high: Number(raw.high),
      low: Number(raw.low),
      close: Number(raw.close),
    };
    if ([bar.time, bar.open, bar.high, bar.low, bar.close].every(Number.isFinite)) bars.push(bar);
  }
  bars.sort((a, b) => a.time - b.time);
  return bars.filter((b, i) => i === 0 || b.time !== bars[i - 1]?.time);
}
