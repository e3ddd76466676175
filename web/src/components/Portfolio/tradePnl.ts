// Each sell's P&L on the bot's average cost: buys add their cost (fee included) to the position,
// a sell realises its net proceeds less the average cost of what it sold.
import type { Trade } from "../../api/client";

export interface ClosedTrade {
  trade: Trade;
  /** Realised P&L of a sell (average cost); null for a buy or when its buys are not listed. */
  pnl: number | null;
}

export function withPnl(trades: Trade[]): ClosedTrade[] {
  const oldestFirst = [...trades].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  const book = new Map<number, { base: number; cost: number }>();
  const out: ClosedTrade[] = [];
  for (const trade of oldestFirst) {
    const position = book.get(trade.bot_id) ?? { base: 0, cost: 0 };
    const size = Number(trade.base_size);
    const net = Number(trade.net_total);
    let pnl: number | null = null;
    if (trade.side === "BUY") {
      position.base += size;
      position.cost += net;
    } else if (position.base > 0) {
      const sold = Math.min(size, position.base);
      const cost = (position.cost / position.base) * sold;
      pnl = net - cost;
      position.base -= sold;
      position.cost -= cost;
    }
    book.set(trade.bot_id, position);
    out.push({ trade, pnl });
  }
  return out.reverse();
}
