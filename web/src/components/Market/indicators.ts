// The strategy's indicators over the chart's closes, as lines for lightweight-charts. The same
// textbook formulas the strategies use (EMA seeded with the SMA, Wilder's RSI, population σ).
export interface LinePoint {
  time: number;
  value: number;
}

export function sma(times: number[], closes: number[], period: number): LinePoint[] {
  const out: LinePoint[] = [];
  let sum = 0;
  closes.forEach((c, i) => {
    sum += c;
    if (i >= period) sum -= closes[i - period] ?? 0;
    if (i >= period - 1) out.push({ time: times[i] ?? 0, value: sum / period });
  });
  return out;
}

export function ema(times: number[], closes: number[], period: number): LinePoint[] {
  const out: LinePoint[] = [];
  if (closes.length < period) return out;
  const k = 2 / (period + 1);
  let value = closes.slice(0, period).reduce((a, b) => a + b, 0) / period;
  out.push({ time: times[period - 1] ?? 0, value });
  for (let i = period; i < closes.length; i++) {
    value = (closes[i] ?? value) * k + value * (1 - k);
    out.push({ time: times[i] ?? 0, value });
  }
  return out;
}

export function bollinger(times: number[], closes: number[], period: number, deviations: number): { upper: LinePoint[]; middle: LinePoint[]; lower: LinePoint[] } {
  const upper: LinePoint[] = [];
  const middle: LinePoint[] = [];
  const lower: LinePoint[] = [];
  for (let i = period - 1; i < closes.length; i++) {
    const window = closes.slice(i - period + 1, i + 1);
    const mean = window.reduce((a, b) => a + b, 0) / period;
    const sd = Math.sqrt(window.reduce((a, b) => a + (b - mean) ** 2, 0) / period);
    const time = times[i] ?? 0;
    upper.push({ time, value: mean + deviations * sd });
    middle.push({ time, value: mean });
    lower.push({ time, value: mean - deviations * sd });
  }
  return { upper, middle, lower };
}

export function rsi(times: number[], closes: number[], period: number): LinePoint[] {
  const out: LinePoint[] = [];
  if (closes.length <= period) return out;
  let gain = 0;
  let loss = 0;
  for (let i = 1; i <= period; i++) {
    const change = (closes[i] ?? 0) - (closes[i - 1] ?? 0);
    gain += Math.max(change, 0);
    loss += Math.max(-change, 0);
  }
  gain /= period;
  loss /= period;
  const value = () => (loss === 0 ? 100 : 100 - 100 / (1 + gain / loss));
  out.push({ time: times[period] ?? 0, value: value() });
  for (let i = period + 1; i < closes.length; i++) {
    const change = (closes[i] ?? 0) - (closes[i - 1] ?? 0);
    gain = (gain * (period - 1) + Math.max(change, 0)) / period;
    loss = (loss * (period - 1) + Math.max(-change, 0)) / period;
    out.push({ time: times[i] ?? 0, value: value() });
  }
  return out;
}

export function macd(times: number[], closes: number[], fast: number, slow: number, signal: number): { macd: LinePoint[]; signal: LinePoint[] } {
  const f = new Map(ema(times, closes, fast).map((p) => [p.time, p.value]));
  const line = ema(times, closes, slow)
    .filter((p) => f.has(p.time))
    .map((p) => ({ time: p.time, value: (f.get(p.time) ?? 0) - p.value }));
  const sig = ema(
    line.map((p) => p.time),
    line.map((p) => p.value),
    signal,
  );
  return { macd: line, signal: sig };
}
