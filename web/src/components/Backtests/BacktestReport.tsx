// One finished run: its report (self-contained HTML, fetched with the token and shown in a sandboxed
// frame), its PNG charts, and each bot's key figures from the JSON summary.
import { useEffect, useState } from "react";
import { api, fetchFile, type Schemas } from "../../api/client";
import { formatMoney, formatPct } from "../../state/format";
import { Empty, Panel } from "../ui/Panel";
import { drawdown } from "./progress";

type Detail = Schemas["BacktestDetailOut"];
type Figures = Record<string, unknown>;

function num(value: unknown): number | null {
  const n = typeof value === "string" ? Number(value) : typeof value === "number" ? value : NaN;
  return Number.isFinite(n) ? n : null;
}

export function BacktestReport({ id, onClose }: { id: number; onClose: () => void }) {
  const [detail, setDetail] = useState<Detail | null>(null);
  const [page, setPage] = useState<string | null>(null); // object URL, for a tab of its own
  const [html, setHtml] = useState<string | null>(null); // the same page, for the sandboxed frame
  const [charts, setCharts] = useState<[string, string][]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    const urls: string[] = [];
    (async () => {
      const run = await api.get("/api/v1/backtests/{backtest_id}", { path: { backtest_id: id } });
      if (!live) return;
      setDetail(run);
      if (!run.report_url) return;
      const report = await fetchFile(run.report_url);
      const text = await report.text();
      const url = URL.createObjectURL(report);
      urls.push(url);
      if (!live) return;
      setPage(url);
      setHtml(text);
      for (const name of run.charts) {
        const url = URL.createObjectURL(await fetchFile(`${run.report_url}/${encodeURIComponent(name)}`));
        urls.push(url);
        if (!live) return;
        setCharts((c) => [...c, [name, url]]);
      }
    })().catch((e: unknown) => live && setError((e as Error).message));
    return () => {
      live = false;
      for (const url of urls) URL.revokeObjectURL(url);
    };
  }, [id]);

  const bots = (detail?.summary?.bots ?? []) as Figures[];
  return (
    <Panel
      title={`Backtest #${id} report`}
      testId="backtest-report"
      actions={
        <>
          {page && (
            <a className="button" href={page} target="_blank" rel="noreferrer">
              Open in a new tab
            </a>
          )}
          <button type="button" onClick={onClose}>
            Close
          </button>
        </>
      }
    >
      {error && <p className="form-error">{error}</p>}
      {!detail && !error && <Empty>Loading…</Empty>}
      {bots.length > 0 && (
        <div className="table-scroll">
          <table data-testid="backtest-bots">
            <thead>
              <tr>
                <th>Bot</th><th className="num">Trades</th><th className="num">P&amp;L</th><th className="num">P&amp;L %</th>
                <th className="num">Fees</th><th className="num">Win rate</th><th className="num">Max DD</th><th className="num">Sharpe</th>
                <th className="num">Buy &amp; hold</th>
              </tr>
            </thead>
            <tbody>
              {bots.map((b) => (
                <tr key={String(b.name)}>
                  <td>{String(b.name)}</td>
                  <td className="num">{String(b.trades)}</td>
                  <td className={`num ${(num(b.total_pnl_quote) ?? 0) >= 0 ? "up" : "down"}`}>{formatMoney(num(b.total_pnl_quote))}</td>
                  <td className="num">{formatPct(num(b.total_pnl_pct))}</td>
                  <td className="num">{formatMoney(num(b.fees_quote))}</td>
                  <td className="num">{num(b.win_rate) === null ? "—" : `${((num(b.win_rate) ?? 0) * 100).toFixed(0)}%`}</td>
                  <td className="num">{drawdown(num(b.max_drawdown_pct))}</td>
                  <td className="num">{num(b.sharpe)?.toFixed(2) ?? "—"}</td>
                  <td className="num">{formatPct(num(b.buy_and_hold_pct))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {html !== null && (
        // srcdoc in an empty sandbox: the report's own page, with no script and no access to this one.
        <iframe className="report-frame" title={`Backtest ${id} report`} srcDoc={html} sandbox="" data-testid="report-frame" />
      )}
      {charts.length > 0 && (
        <div className="chart-gallery" data-testid="backtest-charts">
          {charts.map(([name, url]) => (
            <a key={name} href={url} target="_blank" rel="noreferrer" title={name}>
              <img src={url} alt={name} />
              <small>{name}</small>
            </a>
          ))}
        </div>
      )}
    </Panel>
  );
}
