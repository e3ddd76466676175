// Equity and P&L over time: the account's snapshots (GET /pnl/equity) for the chosen range, with
// the current figures (GET /pnl, every few seconds) as the newest point, so the line moves live.
import { AreaSeries, createChart, type IChartApi, type ISeriesApi, LineSeries, type UTCTimestamp } from "lightweight-charts";
import { useEffect, useRef, useState } from "react";
import { api } from "../../api/client";
import { isoToUnix } from "../../state/format";

export const RANGES: Record<string, number | null> = { "1h": 3600, "1d": 86_400, "1w": 604_800, all: null };

export interface Point {
  time: number;
  equity: number;
  pnl: number;
}

/** Points oldest first, one per second at most (the chart refuses two of one time). */
export function mergePoints(points: Point[]): Point[] {
  const byTime = new Map<number, Point>();
  for (const p of points) byTime.set(Math.floor(p.time), { ...p, time: Math.floor(p.time) });
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}

export function EquityChart(props: { live: Point | null }) {
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);
  const equity = useRef<ISeriesApi<"Area"> | null>(null);
  const pnl = useRef<ISeriesApi<"Line"> | null>(null);
  const [range, setRange] = useState("1d");
  const [history, setHistory] = useState<Point[]>([]);
  const [error, setError] = useState("");

  useEffect(() => {
    const el = container.current;
    if (!el) return;
    const c = createChart(el, {
      autoSize: true,
      layout: { background: { color: "transparent" }, textColor: "#9aa4b2", attributionLogo: false },
      grid: { vertLines: { color: "#1f2733" }, horzLines: { color: "#1f2733" } },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#2a3441" },
      rightPriceScale: { borderColor: "#2a3441" },
      leftPriceScale: { visible: true, borderColor: "#2a3441" },
    });
    equity.current = c.addSeries(AreaSeries, {
      lineColor: "#3b82f6",
      topColor: "#3b82f655",
      bottomColor: "#3b82f605",
      title: "equity",
      priceScaleId: "right",
    });
    pnl.current = c.addSeries(LineSeries, { color: "#22c55e", lineWidth: 2, title: "P&L", priceScaleId: "left" });
    chart.current = c;
    return () => {
      c.remove();
      chart.current = null;
      equity.current = null;
      pnl.current = null;
    };
  }, []);

  useEffect(() => {
    let cancelled = false;
    const load = async () => {
      const span = RANGES[range] ?? null;
      const since = span === null ? undefined : new Date(Date.now() - span * 1000).toISOString();
      try {
        const rows = await api.get("/api/v1/pnl/equity", { query: { since, limit: 10_000 } });
        if (cancelled) return;
        setHistory(
          rows.map((r) => ({
            time: isoToUnix(r.taken_at) ?? 0,
            equity: Number(r.equity),
            pnl: Number(r.realized_pnl) + Number(r.unrealized_pnl),
          })),
        );
        setError("");
      } catch (e) {
        if (!cancelled) setError(e instanceof Error ? e.message : String(e));
      }
    };
    void load();
    const handle = setInterval(() => void load(), 30_000);
    return () => {
      cancelled = true;
      clearInterval(handle);
    };
  }, [range]);

  useEffect(() => {
    const points = mergePoints(props.live ? [...history, props.live] : history);
    equity.current?.setData(points.map((p) => ({ time: p.time as UTCTimestamp, value: p.equity })));
    pnl.current?.setData(points.map((p) => ({ time: p.time as UTCTimestamp, value: p.pnl })));
    chart.current?.timeScale().fitContent();
  }, [history, props.live]);

  return (
    <div data-testid="equity-chart" data-points={history.length + (props.live ? 1 : 0)}>
      <div className="chart-toolbar">
        <div className="segmented" role="group" aria-label="Range">
          {Object.keys(RANGES).map((r) => (
            <button key={r} type="button" className={r === range ? "active" : ""} onClick={() => setRange(r)} data-testid={`range-${r}`}>
              {r}
            </button>
          ))}
        </div>
        <small className="muted">
          <span style={{ color: "#3b82f6" }}>■</span> equity (right) · <span style={{ color: "#22c55e" }}>■</span> P&amp;L (left)
        </small>
        {error && <small className="warn-text">{error}</small>}
      </div>
      <div ref={container} className="chart" style={{ height: 260 }} />
    </div>
  );
}
