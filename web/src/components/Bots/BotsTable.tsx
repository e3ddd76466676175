import { useState } from "react";
import type { BotStatus } from "../../api/client";
import { formatMoney, formatSize, formatUs } from "../../state/format";
import { useDashboard } from "../../state/store";
import { ConfirmButton } from "../ui/Confirm";
import { Empty, Panel } from "../ui/Panel";
import { closePosition, deleteBot, holding, setStreaming, startBot, stopBot } from "./actions";
import { BotForm } from "./BotForm";

export function StateBadge({ bot }: { bot: BotStatus }) {
  const tone = bot.state === "running" ? "good" : bot.state === "stopped" ? "muted" : "bad";
  return (
    <span className={`state state-${tone}`} data-testid="bot-state" title={bot.error_reason}>
      {bot.state}
      {bot.error_reason && <small>: {bot.error_reason}</small>}
    </span>
  );
}

export function pnl(bot: BotStatus): number {
  return Number(bot.position.realized_pnl) + Number(bot.unrealized_pnl);
}

export function BotActions({ bot, onEdit }: { bot: BotStatus; onEdit?: () => void }) {
  const running = bot.state === "running";
  return (
    <div className="row-actions">
      {running ? (
        <button type="button" onClick={() => void stopBot(bot)} data-testid="stop-bot">
          Stop
        </button>
      ) : (
        <button type="button" className="primary" onClick={() => void startBot(bot)} data-testid="start-bot">
          Start
        </button>
      )}
      {onEdit && (
        <button type="button" onClick={onEdit}>
          Edit
        </button>
      )}
      {holding(bot) && (
        <ConfirmButton
          label="Close"
          title={`Close ${bot.name}'s position?`}
          message={`Sells the whole position (${bot.position.base_size}) at the market now. Break-even is ${bot.break_even_price}.`}
          confirmLabel="Sell position"
          onConfirm={() => closePosition(bot)}
        />
      )}
      {holding(bot) ? (
        <>
          <ConfirmButton
            label="Delete"
            danger
            title={`Delete ${bot.name}? It holds ${bot.position.base_size}`}
            message="The bot stops, its position is sold at the market, then it is removed. Its trades stay in the history."
            confirmLabel="Sell and delete"
            onConfirm={() => deleteBot(bot, "close")}
          />
          <ConfirmButton
            label="Delete, keep coins"
            danger
            title={`Delete ${bot.name} and keep its coins?`}
            message="The bot is removed; what it holds stays in the account as an unassigned holding."
            confirmLabel="Delete, keep coins"
            onConfirm={() => deleteBot(bot, "keep")}
          />
        </>
      ) : (
        <ConfirmButton
          label="Delete"
          danger
          title={`Delete ${bot.name}?`}
          message="The bot stops and is removed. Its trades stay in the history."
          confirmLabel="Delete bot"
          onConfirm={() => deleteBot(bot)}
        />
      )}
    </div>
  );
}

export function BotsTable() {
  const bots = useDashboard((s) => s.bots);
  const error = useDashboard((s) => s.botsError);
  const [editing, setEditing] = useState<BotStatus | "new" | null>(null);
  return (
    <Panel
      title="Bots"
      testId="bots-panel"
      actions={
        <button type="button" className="primary" onClick={() => setEditing("new")} data-testid="new-bot">
          New bot
        </button>
      }
    >
      {editing && <BotForm key={editing === "new" ? "new" : editing.id} bot={editing === "new" ? undefined : editing} onDone={() => setEditing(null)} />}
      {error && <p className="form-error">Could not load bots: {error}</p>}
      {bots === null ? (
        <Empty>Loading bots…</Empty>
      ) : bots.length === 0 ? (
        <Empty>No bots yet. Create one with “New bot”: pick a strategy and a product, set a budget, then start it.</Empty>
      ) : (
        <div className="table-scroll">
          <table className="bots" data-testid="bots-table">
            <thead>
              <tr>
                <th>Bot</th>
                <th>Strategy</th>
                <th>Product</th>
                <th>State</th>
                <th title="Streaming: evaluated on every ticker">Stream</th>
                <th className="num">Position</th>
                <th className="num">P&amp;L</th>
                <th>Last signal</th>
                <th className="num" title="Mean evaluation time · tick→decision p99">Eval</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {bots.map((bot) => {
                const total = pnl(bot);
                return (
                  <tr key={bot.id} data-testid={`bot-row-${bot.id}`} data-bot-name={bot.name}>
                    <td data-label="Bot">
                      <a href={`#/bots/${bot.id}`}>{bot.name}</a> <small className="muted">#{bot.id}</small>
                    </td>
                    <td data-label="Strategy">{bot.strategy}</td>
                    <td data-label="Product">{bot.product_id}</td>
                    <td data-label="State">
                      <StateBadge bot={bot} />
                    </td>
                    <td data-label="Stream">
                      <label className="switch" title={bot.streaming ? "streaming: every ticker" : "polling"}>
                        <input type="checkbox" checked={bot.streaming} onChange={(e) => void setStreaming(bot, e.target.checked)} />
                        <span />
                      </label>
                    </td>
                    <td data-label="Position" className="num" data-testid="bot-position">
                      {formatSize(bot.position.base_size)}
                      {holding(bot) && (
                        <small className="muted" data-testid="break-even" title="Break-even: average entry with the buy fee, grossed up for the sell fee">
                          {" "}· b/e {bot.break_even_price}
                        </small>
                      )}
                    </td>
                    <td data-label="P&L" className={`num ${total > 0 ? "up" : total < 0 ? "down" : ""}`} title={`realized ${bot.position.realized_pnl} · unrealized ${bot.unrealized_pnl}`}>
                      {formatMoney(total)}
                    </td>
                    <td data-label="Last signal" className="signal">
                      {bot.last_signal ? (
                        <>
                          <span className={bot.last_signal.side === "BUY" ? "up" : "down"}>{bot.last_signal.side}</span>{" "}
                          <small>{bot.last_signal.reason}</small>
                        </>
                      ) : (
                        <small className="muted">none yet</small>
                      )}
                    </td>
                    <td data-label="Eval" className="num">
                      {formatUs(bot.mean_eval_us)}
                      <small className="muted"> · p99 {formatUs(bot.tick_to_decision_p99_us)}</small>
                    </td>
                    <td>
                      <BotActions bot={bot} onEdit={() => setEditing(bot)} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}
