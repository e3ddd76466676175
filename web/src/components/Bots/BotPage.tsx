// One bot: its chart with its own buys and sells, its orders, trades and live events (its own
// channel, /api/v1/ws/bots/{bot_id}, adds what the shared ones do not carry, such as bots.state).
import { useEffect, useState } from "react";
import { dashboard } from "../../state/controller";
import type { SocketState } from "../../stream/socket";
import { formatMoney, formatPrice, formatSize, formatUs } from "../../state/format";
import { useDashboard } from "../../state/store";
import { CandleChart } from "../Market/CandleChart";
import { TradeExecutionFeed } from "../Trading/TradeExecutionFeed";
import { TradeProgressIndicator } from "../Trading/TradeProgressIndicator";
import { Empty, Panel } from "../ui/Panel";
import { BotForm } from "./BotForm";
import { humanLabel, unitOf } from "./schemaForm";
import { BotActions, pnl, StateBadge } from "./BotsTable";

export function BotPage({ botId }: { botId: number }) {
  const bots = useDashboard((s) => s.bots);
  const trades = useDashboard((s) => s.trades);
  const bot = bots?.find((b) => b.id === botId);
  const ticker = useDashboard((s) => (bot ? s.tickers[bot.product_id] : undefined));
  const [editing, setEditing] = useState(false);
  const [channel, setChannel] = useState<SocketState>("connecting");
  useEffect(() => dashboard()?.watchBot(botId, setChannel), [botId]);
  if (bots === null) return <Empty>Loading…</Empty>;
  if (!bot)
    return (
      <Empty>
        There is no bot #{botId} (it may have been deleted). <a href="#/">Back to the dashboard</a>
      </Empty>
    );
  const own = trades.filter((t) => t.bot_id === botId);
  return (
    <div className="bot-page" data-testid="bot-page" data-channel={channel}>
      <div className="bot-header">
        <a href="#/">← all bots</a>
        <h1>
          {bot.name} <small className="muted">#{bot.id}</small>
        </h1>
        <StateBadge bot={bot} />
        <small className="muted">live events: {channel}</small>
        <BotActions bot={bot} onEdit={() => setEditing(true)} />
        <a className="button" href={`#/backtests?bot=${bot.id}`} data-testid="backtest-this-bot">
          Backtest this bot
        </a>
      </div>
      {editing && <BotForm bot={bot} onDone={() => setEditing(false)} />}
      <dl className="metrics bot-figures">
        <div><dt>strategy</dt><dd>{bot.strategy}</dd></div>
        <div><dt>product</dt><dd>{bot.product_id} {ticker && formatPrice(ticker.price)}</dd></div>
        <div><dt>budget</dt><dd>{formatMoney(bot.budget)}</dd></div>
        <div><dt>position</dt><dd>{formatSize(bot.position.base_size)} @ {formatPrice(bot.position.average_entry)}</dd></div>
        <div><dt>P&amp;L</dt><dd className={pnl(bot) >= 0 ? "up" : "down"}>{formatMoney(pnl(bot))}</dd></div>
        <div><dt>evaluations</dt><dd>{bot.evaluations.toLocaleString("en-US")} · {formatUs(bot.mean_eval_us)} mean</dd></div>
        <div><dt>tick→decision p99</dt><dd>{formatUs(bot.tick_to_decision_p99_us)}</dd></div>
        <div><dt>last signal</dt><dd>{bot.last_signal ? `${bot.last_signal.side} — ${bot.last_signal.reason}` : "none yet"}</dd></div>
        {Object.entries(bot.params)
          .filter(([, v]) => v !== null && v !== false)
          .map(([k, v]) => (
            <div key={k} data-testid={`param-${k}`}>
              <dt>{humanLabel(k)}</dt>
              <dd>
                {String(v)}
                {unitOf(k, "") === "%" ? "%" : ""}
              </dd>
            </div>
          ))}
      </dl>
      <Panel title="Chart">
        <CandleChart productId={bot.product_id} botId={bot.id} height={340} />
      </Panel>
      <div className="grid-2">
        <TradeProgressIndicator botId={bot.id} limit={10} />
        <TradeExecutionFeed botId={bot.id} />
      </div>
      <Panel title="Trades" testId="bot-trades">
        {own.length === 0 ? (
          <Empty>No trades for this bot yet.</Empty>
        ) : (
          <div className="table-scroll">
            <table>
              <thead>
                <tr><th>Time</th><th>Side</th><th className="num">Size</th><th className="num">Price</th><th className="num">Amount</th><th className="num">Fee</th><th>Reason</th></tr>
              </thead>
              <tbody>
                {own.slice(0, 100).map((t) => (
                  <tr key={t.client_order_id}>
                    <td>{new Date(t.filled_at ?? t.created_at).toLocaleTimeString("en-GB")}</td>
                    <td className={t.side === "BUY" ? "up" : "down"}>{t.side}</td>
                    <td className="num">{formatSize(t.base_size)}</td>
                    <td className="num">{formatPrice(t.price)}</td>
                    <td className="num">{formatMoney(t.quote_amount)}</td>
                    <td className="num">{formatMoney(t.fee)}</td>
                    <td><small>{t.reason}</small></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Panel>
    </div>
  );
}
