import { describe, expect, it } from "vitest";
import { bollinger, ema, macd, rsi, sma } from "./indicators";

const times = [1, 2, 3, 4, 5, 6];
const closes = [1, 2, 3, 4, 5, 6];

describe("indicators", () => {
  it("averages", () => {
    expect(sma(times, closes, 3).map((p) => p.value)).toEqual([2, 3, 4, 5]);
    const e = ema(times, closes, 3);
    expect(e[0]).toEqual({ time: 3, value: 2 });
    expect(e[1]?.value).toBeCloseTo(3);
  });

  it("bands around the average", () => {
    const b = bollinger([1, 2], [1, 3], 2, 2);
    expect(b.middle[0]?.value).toBe(2);
    expect(b.upper[0]?.value).toBe(4);
    expect(b.lower[0]?.value).toBe(0);
  });

  it("RSI is 100 when prices only rise, and MACD of a straight line settles", () => {
    expect(rsi(times, closes, 3).every((p) => p.value === 100)).toBe(true);
    const m = macd([...Array(40).keys()], [...Array(40).keys()], 3, 6, 3);
    expect(m.macd.at(-1)?.value).toBeCloseTo(1.5);
    expect(m.signal.length).toBeGreaterThan(0);
  });
});
