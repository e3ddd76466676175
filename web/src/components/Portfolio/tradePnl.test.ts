import { describe, expect, it } from "vitest";
import type { Trade } from "../../api/client";
import { withPnl } from "./tradePnl";

const trade = (side: string, size: string, net: string, at: string): Trade =>
  ({ bot_id: 1, side, base_size: size, net_total: net, created_at: at }) as unknown as Trade;

describe("withPnl", () => {
  it("realises a sell against the average cost of the buys before it", () => {
    const rows = withPnl([
      trade("SELL", "1", "130", "2026-01-01T00:03:00Z"),
      trade("BUY", "1", "100", "2026-01-01T00:01:00Z"),
      trade("BUY", "1", "120", "2026-01-01T00:02:00Z"),
    ]);
    expect(rows[0]?.trade.side).toBe("SELL");
    expect(rows[0]?.pnl).toBeCloseTo(20);
    expect(rows[1]?.pnl).toBeNull();
  });

  it("gives no P&L to a sell whose buys are not listed", () => {
    expect(withPnl([trade("SELL", "1", "130", "2026-01-01T00:03:00Z")])[0]?.pnl).toBeNull();
  });
});
