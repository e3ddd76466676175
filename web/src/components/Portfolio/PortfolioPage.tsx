// The trader's portfolio: equity and P&L over time, cash and holdings per asset, open positions
// (each with Close), and closed trades with fees and P&L. Live: bots and trades come by socket,
// balances and the current equity are re-read every few seconds.
import { useEffect, useMemo, useState } from "react";
import { api, type BotStatus, type Schemas } from "../../api/client";
import { botLabel, closePosition } from "../Bots/actions";
import { errorText } from "../../state/controller";
import { formatMoney, formatPrice, formatSize, isoToUnix, formatTime } from "../../state/format";
import { useDashboard } from "../../state/store";
import { ConfirmButton } from "../ui/Confirm";
import { type Column, DataTable } from "../ui/DataTable";
import { Panel } from "../ui/Panel";
import { EquityChart, type Point } from "./EquityChart";
import { type ClosedTrade, withPnl } from "./tradePnl";

interface Holding {
  currency: string;
  total: number;
  available: number;
  price: number | null;
  value: number | null;
  unassigned: number;
}

function useRefreshed<T>(load: () => Promise<T>, ms: number, deps: unknown[]): { data: T | null; error: string } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    let cancelled = false;
    const run = () =>
      load().then(
        (d) => {
          if (!cancelled) {
            setData(d);
            setError("");
          }
        },
        (e: unknown) => !cancelled && setError(errorText(e)),
      );
    void run();
    const handle = setInterval(() => void run(), ms);
    return () => {
      cancelled = true;
      clearInterval(handle);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return { data, error };
}

const signed = (v: number | null) => (v === null ? "" : v > 0 ? "up" : v < 0 ? "down" : "");

export function PortfolioPage() {
  const bots = useDashboard((s) => s.bots);
  const trades = useDashboard((s) => s.trades);
  const tickers = useDashboard((s) => s.tickers);
  const tradeCount = trades.length;
  const pnl = useRefreshed(() => api.get("/api/v1/pnl"), 5000, [tradeCount]);
  const accounts = useRefreshed(
    () => Promise.all([api.get("/api/v1/accounts"), api.get("/api/v1/accounts/unassigned")]),
    5000,
    [tradeCount],
  );

  const live: Point | null = useMemo(() => {
    const p = pnl.data;
    if (!p || p.account_equity === null) return null;
    return { time: Date.now() / 1000, equity: Number(p.account_equity), pnl: Number(p.total_pnl) };
  }, [pnl.data]);

  const holdings: Holding[] = useMemo(() => {
    if (!accounts.data) return [];
    const [list, unassigned] = accounts.data;
    return list.accounts
      .filter((a: Schemas["AccountOut"]) => Number(a.total) > 0)
      .map((a: Schemas["AccountOut"]) => {
        const total = Number(a.total);
        const price = a.currency === "USD" || a.currency === "USDC" ? 1 : (tickers[`${a.currency}-USD`]?.price ?? null);
        const spare = unassigned.find((u) => u.currency === a.currency);
        return {
          currency: a.currency,
          total,
          available: Number(a.available),
          price,
          value: price === null ? null : total * price,
          unassigned: spare ? Number(spare.base_size) : 0,
        };
      });
  }, [accounts.data, tickers]);

  const open = (bots ?? []).filter((b) => b.break_even_price !== null && b.break_even_price !== undefined);
  const closed = useMemo(() => withPnl(trades), [trades]);
  const cash = holdings.find((h) => h.currency === "USD");

  const holdingColumns: Column<Holding>[] = [
    { key: "currency", label: "Asset", value: (h) => h.currency },
    { key: "total", label: "Amount", value: (h) => h.total, numeric: true, render: (h) => formatSize(h.total) },
    { key: "price", label: "Price", value: (h) => h.price, numeric: true, render: (h) => formatPrice(h.price) },
    { key: "value", label: "Value (USD)", value: (h) => h.value, numeric: true, render: (h) => formatMoney(h.value) },
    {
      key: "unassigned",
      label: "Unassigned",
      value: (h) => h.unassigned,
      numeric: true,
      render: (h) => (h.unassigned > 0 ? <span title="No bot accounts for these coins (a deleted bot's kept coins)">{formatSize(h.unassigned)}</span> : "—"),
    },
  ];
  const positionColumns: Column<BotStatus>[] = [
    { key: "bot", label: "Bot", value: (b) => b.name, render: (b) => <a href={`#/bots/${b.id}`}>{b.name}</a> },
    { key: "product", label: "Product", value: (b) => b.product_id },
    { key: "size", label: "Size", value: (b) => Number(b.position.base_size), numeric: true, render: (b) => formatSize(b.position.base_size) },
    { key: "entry", label: "Entry", value: (b) => Number(b.position.average_entry), numeric: true, render: (b) => formatPrice(b.position.average_entry) },
    { key: "mark", label: "Mark", value: (b) => b.last_price ?? null, numeric: true, render: (b) => formatPrice(b.last_price) },
    {
      key: "unrealized",
      label: "Unrealized P&L",
      value: (b) => Number(b.unrealized_pnl),
      numeric: true,
      render: (b) => <span className={signed(Number(b.unrealized_pnl))}>{formatMoney(b.unrealized_pnl)}</span>,
    },
    {
      key: "breakeven",
      label: "Break-even",
      value: (b) => Number(b.break_even_price),
      numeric: true,
      render: (b) => <span title="Average entry with the buy fee, grossed up for the sell fee">{formatPrice(b.break_even_price)}</span>,
    },
  ];
  const tradeColumns: Column<ClosedTrade>[] = [
    { key: "time", label: "Time", value: (t) => isoToUnix(t.trade.filled_at ?? t.trade.created_at), render: (t) => formatTime(isoToUnix(t.trade.filled_at ?? t.trade.created_at)) },
    { key: "bot", label: "Bot", value: (t) => botLabel(t.trade.bot_id) },
    { key: "product", label: "Product", value: (t) => t.trade.product_id },
    { key: "side", label: "Side", value: (t) => t.trade.side, render: (t) => <span className={t.trade.side === "BUY" ? "up" : "down"}>{t.trade.side}</span> },
    { key: "size", label: "Size", value: (t) => Number(t.trade.base_size), numeric: true, render: (t) => formatSize(t.trade.base_size) },
    { key: "price", label: "Price", value: (t) => Number(t.trade.price), numeric: true, render: (t) => formatPrice(t.trade.price) },
    { key: "fee", label: "Fee", value: (t) => Number(t.trade.fee), numeric: true, render: (t) => formatMoney(t.trade.fee) },
    { key: "net", label: "Net", value: (t) => Number(t.trade.net_total), numeric: true, render: (t) => formatMoney(t.trade.net_total) },
    { key: "pnl", label: "P&L", value: (t) => t.pnl, numeric: true, render: (t) => <span className={signed(t.pnl)}>{t.pnl === null ? "—" : formatMoney(t.pnl)}</span> },
  ];

  const p = pnl.data;
  return (
    <>
      <section className="summary-cards" data-testid="portfolio-summary">
        <div>
          <small>Equity</small>
          <strong data-testid="portfolio-equity">{formatMoney(p?.account_equity)}</strong>
        </div>
        <div>
          <small>Cash (USD available)</small>
          <strong data-testid="portfolio-cash">{formatMoney(cash?.available)}</strong>
        </div>
        <div>
          <small>Total P&amp;L</small>
          <strong className={signed(p ? Number(p.total_pnl) : null)}>{formatMoney(p?.total_pnl)}</strong>
        </div>
        <div>
          <small>Unrealized</small>
          <strong className={signed(p ? Number(p.unrealized_pnl) : null)}>{formatMoney(p?.unrealized_pnl)}</strong>
        </div>
      </section>
      <Panel title="Equity and P&L" testId="equity-panel">
        <EquityChart live={live} />
      </Panel>
      <Panel title="Open positions" testId="positions-panel">
          <DataTable
            rows={open}
            columns={positionColumns}
            rowKey={(b) => String(b.id)}
            testId="positions-table"
            empty="No open positions: a bot's buy shows here until it sells."
            initialSort={{ key: "unrealized", desc: true }}
            actions={(b) => (
              <ConfirmButton
                label="Close"
                testId="close-position"
                title={`Close ${b.name}'s position?`}
                message={`Sells ${formatSize(b.position.base_size)} ${b.product_id.split("-")[0]} at the market now (mark ${formatPrice(b.last_price)}, break-even ${formatPrice(b.break_even_price)}). The bot keeps running: stop it first if it should not buy again.`}
                confirmLabel="Sell position"
                onConfirm={() => closePosition(b)}
              />
            )}
          />
      </Panel>
      <Panel title="Cash and holdings" testId="holdings-panel">
          {accounts.error && <p className="form-error">Balances unavailable: {accounts.error}</p>}
          <DataTable
            rows={holdings}
            columns={holdingColumns}
            rowKey={(h) => h.currency}
            testId="holdings-table"
            empty={accounts.data ? "The account holds nothing." : "Loading balances…"}
            initialSort={{ key: "value", desc: true }}
          />
      </Panel>
      <Panel title="Trades" testId="trades-panel">
        <DataTable
          rows={closed}
          columns={tradeColumns}
          rowKey={(t) => t.trade.client_order_id}
          testId="trades-table"
          empty="No trades yet."
          initialSort={{ key: "time", desc: true }}
          filterPlaceholder="Filter by bot, product, side…"
        />
      </Panel>
    </>
  );
}
