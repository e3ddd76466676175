// Start a backtest: data paths on the server, and the bots to replay (picked among the platform's
// bots, or a JSON list with the fields of POST /api/v1/bots), fees, latency and the time window.
import { useState } from "react";
import { api, type Schemas } from "../../api/client";
import { useStartForm } from "../../hooks/useRuns";
import { useDashboard } from "../../state/store";
import { Panel } from "../ui/Panel";
import type { Backtest } from "./progress";

const SAMPLE_BOTS = JSON.stringify(
  [{ name: "ema", strategy: "ema_crossover", product_id: "BTC-USD", params: { fast: 5, slow: 13 }, budget: "1000" }],
  null,
  2,
);

type Body = Schemas["BacktestCreate"];

export function BacktestForm({ botId, onStarted }: { botId: number | null; onStarted: (run: Backtest) => void }) {
  const bots = useDashboard((s) => s.bots);
  const [data, setData] = useState("");
  const [mode, setMode] = useState<"pick" | "json">(botId !== null ? "pick" : "json");
  const [picked, setPicked] = useState<number[]>(botId !== null ? [botId] : []);
  const [json, setJson] = useState(SAMPLE_BOTS);
  const [maker, setMaker] = useState("");
  const [taker, setTaker] = useState("");
  const [latency, setLatency] = useState("50");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");

  function body(): Body {
    const out: Body = { latency_ms: Number(latency) };
    const paths = data.split("\n").map((line) => line.trim()).filter(Boolean);
    if (paths.length) out.data = paths;
    if (mode === "pick") {
      if (picked.length === 0) throw new Error("bots: pick at least one bot, or give a JSON list");
      if (picked.length === 1) out.bot_id = picked[0] ?? null;
      else
        out.bots = (bots ?? [])
          .filter((b) => picked.includes(b.id))
          .map((b) => ({ name: b.name, strategy: b.strategy, product_id: b.product_id, params: b.params, budget: b.budget }));
    } else {
      try {
        out.bots = JSON.parse(json) as unknown[];
      } catch (e) {
        throw new Error(`bots: not JSON (${(e as Error).message})`);
      }
    }
    if (maker.trim() || taker.trim()) out.fees = { maker: maker.trim(), taker: taker.trim() };
    if (from.trim()) out.from = from.trim();
    if (to.trim()) out.to = to.trim();
    return out;
  }

  const { error, busy, onSubmit } = useStartForm(() => api.post("/api/v1/backtests", { body: body() }), onStarted);

  return (
    <Panel title="New backtest" testId="backtest-form">
      <form
        className="bot-form"
        onSubmit={onSubmit}
      >
        <fieldset className="form-grid">
          <label className="wide">
            Data (one path a line: recordings, Parquet candles, JSON lines; relative to the data dir)
            <textarea
              name="data"
              rows={2}
              value={data}
              placeholder={mode === "pick" && picked.length === 1 ? "empty: the platform's recordings (STREAMBOT_RECORD_DIR)" : "recordings/feed-20260101T00.jsonl.zst"}
              onChange={(e) => setData(e.target.value)}
            />
          </label>
          <label>
            Maker fee <small>fraction, empty: Coinbase's entry tier</small>
            <input name="maker" value={maker} placeholder="0.006" onChange={(e) => setMaker(e.target.value)} />
          </label>
          <label>
            Taker fee <small>fraction</small>
            <input name="taker" value={taker} placeholder="0.012" onChange={(e) => setTaker(e.target.value)} />
          </label>
          <label>
            Latency <small>ms</small>
            <input name="latency_ms" type="number" min={0} value={latency} onChange={(e) => setLatency(e.target.value)} />
          </label>
          <label>
            From <small>UNIX s or ISO, optional</small>
            <input name="from" value={from} placeholder="2026-01-01T00:00:00Z" onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            To <small>optional</small>
            <input name="to" value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
        </fieldset>
        <div className="segmented" role="tablist">
          <button type="button" className={mode === "pick" ? "active" : ""} onClick={() => setMode("pick")}>
            Existing bots
          </button>
          <button type="button" className={mode === "json" ? "active" : ""} onClick={() => setMode("json")}>
            Bots JSON
          </button>
        </div>
        {mode === "pick" ? (
          <div className="bot-picks" data-testid="backtest-bot-picks">
            {(bots ?? []).length === 0 && <p className="empty">No bots yet: give a JSON list instead.</p>}
            {(bots ?? []).map((b) => (
              <label key={b.id} className="check">
                <input
                  type="checkbox"
                  checked={picked.includes(b.id)}
                  onChange={(e) => setPicked((p) => (e.target.checked ? [...p, b.id] : p.filter((id) => id !== b.id)))}
                />
                {b.name} <small className="muted">#{b.id} {b.strategy} on {b.product_id}, budget {b.budget}</small>
              </label>
            ))}
          </div>
        ) : (
          <label className="bots-json">
            Bots <small>a JSON list with the fields of POST /api/v1/bots</small>
            <textarea name="bots" rows={6} value={json} onChange={(e) => setJson(e.target.value)} spellCheck={false} />
          </label>
        )}
        {error && (
          <p className="form-error" role="alert" data-testid="backtest-error">
            {error}
          </p>
        )}
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>
            Start backtest
          </button>
        </div>
      </form>
    </Panel>
  );
}
