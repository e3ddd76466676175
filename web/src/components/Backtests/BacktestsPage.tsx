// Backtests: start one, follow each run live (backtests.* events of the status socket), open a
// finished one's report and charts. Runs happen on the server, each in a process of its own.
import { useEffect, useState } from "react";
import { api } from "../../api/client";
import { errorText, useRunList } from "../../hooks/useRuns";
import { onBacktestUpdate } from "../../state/backtests";
import { formatMoney, formatPct } from "../../state/format";
import { Empty, Panel } from "../ui/Panel";
import { BacktestForm } from "./BacktestForm";
import { BacktestReport } from "./BacktestReport";
import { type Backtest, drawdown, isActive, progressFraction } from "./progress";

const STATE_CLASS: Record<Backtest["state"], string> = {
  queued: "state-muted",
  running: "status-info",
  done: "state-good",
  failed: "state-bad",
  cancelled: "state-muted",
};

function num(value: unknown): number | null {
  const n = typeof value === "string" ? Number(value) : typeof value === "number" ? value : NaN;
  return Number.isFinite(n) ? n : null;
}

function ProgressBar({ run }: { run: Backtest }) {
  const fraction = progressFraction(run);
  const active = run.state === "running";
  return (
    <div className="bt-progress" data-testid="backtest-progress">
      <div
        className={`bt-bar ${active && fraction === null ? "bt-bar-busy" : ""} ${run.state}`}
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={fraction === null ? undefined : Math.round(fraction * 100)}
      >
        <span style={{ width: `${fraction === null ? (active ? 100 : 0) : fraction * 100}%` }} />
      </div>
      <small className="muted">
        {run.progress.ticks.toLocaleString("en-US")} ticks
        {run.progress.ticks_per_s > 0 && ` · ${run.progress.ticks_per_s.toLocaleString("en-US")}/s`}
        {run.progress.at && active && ` · at ${run.progress.at.slice(0, 19).replace("T", " ")}`}
      </small>
    </div>
  );
}

const fetchBacktests = (): Promise<Backtest[]> => api.get("/api/v1/backtests");

/** The bot of "Backtest this bot" (#/backtests?bot=3), read from the address when not given. */
function botFromHash(): number | null {
  const bot = new URLSearchParams(window.location.hash.split("?")[1] ?? "").get("bot");
  return bot && /^\d+$/.test(bot) ? Number(bot) : null;
}

export function BacktestsPage({ botId = botFromHash() }: { botId?: number | null }) {
  const { runs, setRuns, error, setError, load } = useRunList(fetchBacktests, isActive);
  const [open, setOpen] = useState<number | null>(null);

  // Live: progress patched in place; a change of state reloads (figures and report come with it).
  useEffect(
    () =>
      onBacktestUpdate((u) => {
        setRuns((current) =>
          current?.map((r) =>
            r.id !== u.backtest_id
              ? r
              : {
                  ...r,
                  state: u.state,
                  error: u.error ?? null,
                  progress: {
                    ticks: u.ticks ?? r.progress.ticks,
                    at: typeof u.at === "number" ? new Date(u.at * 1000).toISOString() : r.progress.at,
                    ticks_per_s: u.ticks_per_s ?? r.progress.ticks_per_s,
                  },
                },
          ) ?? current,
        );
        if (u.state !== "running") void load();
      }),
    [load],
  );

  async function remove(run: Backtest): Promise<void> {
    try {
      await api.delete("/api/v1/backtests/{backtest_id}", { path: { backtest_id: run.id } });
      if (open === run.id) setOpen(null);
    } catch (e) {
      setError(errorText(e));
    }
    await load();
  }

  return (
    <div className="backtests-page" data-testid="backtests-page">
      <BacktestForm
        botId={botId}
        onStarted={(run) => setRuns((current) => [run, ...(current ?? []).filter((r) => r.id !== run.id)])}
      />
      <Panel title="Backtests" testId="backtests-panel" actions={<button type="button" onClick={() => void load()}>Refresh</button>}>
        {error && <p className="form-error">{error}</p>}
        {runs === null ? (
          <Empty>Loading…</Empty>
        ) : runs.length === 0 ? (
          <Empty>No backtests yet: start one above, or from a bot's page ("Backtest this bot").</Empty>
        ) : (
          <div className="table-scroll">
            <table data-testid="backtests-table">
              <thead>
                <tr>
                  <th>#</th><th>State</th><th>Created</th><th>Bots</th><th>Data</th><th>Progress</th>
                  <th className="num">P&amp;L</th><th className="num">Trades</th><th className="num">Win rate</th>
                  <th className="num">Max DD</th><th className="num">Sharpe</th><th />
                </tr>
              </thead>
              <tbody>
                {runs.map((run) => {
                  const f = run.figures as Record<string, unknown>;
                  const pnl = num(f.total_pnl_quote);
                  return (
                    <tr key={run.id} data-testid={`backtest-${run.id}`} data-state={run.state}>
                      <td>{run.id}</td>
                      <td>
                        <span className={`state ${STATE_CLASS[run.state]}`}>{run.state}</span>
                        {run.error && <div className="form-error bt-error">{run.error}</div>}
                      </td>
                      <td><small>{new Date(run.created).toLocaleString("en-GB")}</small></td>
                      <td><small>{run.bots.map((b) => String((b as { name?: unknown }).name)).join(", ")}</small></td>
                      <td><small title={run.data.join("\n")}>{run.data.map((p) => p.split("/").pop()).join(", ")}</small></td>
                      <td><ProgressBar run={run} /></td>
                      <td className={`num ${pnl !== null && pnl < 0 ? "down" : "up"}`}>
                        {pnl === null ? "—" : `${formatMoney(pnl)} (${formatPct(num(f.total_pnl_pct))})`}
                      </td>
                      <td className="num">{f.trades === undefined ? "—" : String(f.trades)}</td>
                      <td className="num">{num(f.win_rate) === null ? "—" : `${((num(f.win_rate) ?? 0) * 100).toFixed(0)}%`}</td>
                      <td className="num">{drawdown(num(f.max_drawdown_pct))}</td>
                      <td className="num">{num(f.sharpe)?.toFixed(2) ?? "—"}</td>
                      <td className="row-actions">
                        {run.report_url && (
                          <button type="button" onClick={() => setOpen(run.id)}>
                            Report
                          </button>
                        )}
                        <button type="button" className={isActive(run) ? "danger" : ""} onClick={() => void remove(run)}>
                          {isActive(run) ? "Cancel" : "Delete"}
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Panel>
      {open !== null && <BacktestReport key={open} id={open} onClose={() => setOpen(null)} />}
    </div>
  );
}
