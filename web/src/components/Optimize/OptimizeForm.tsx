// Start a parameter search: data paths on the server, a strategy (from GET /api/v1/strategies, as
// the store holds them), product, budget, how many trials, the objective(s), worker processes, and
// optionally a narrower search space (the JSON a --space file holds).
import { useState } from "react";
import { api, type Schemas } from "../../api/client";
import { useStartForm } from "../../hooks/useRuns";
import { useDashboard } from "../../state/store";
import { Panel } from "../ui/Panel";
import { OBJECTIVES, type Objective, type Optimization, parseSpace } from "./progress";

type Body = Schemas["OptimizationCreate"];

export function OptimizeForm({ onStarted }: { onStarted: (run: Optimization) => void }) {
  const strategies = useDashboard((s) => s.strategies);
  const products = useDashboard((s) => s.products);
  const [data, setData] = useState("");
  const [strategy, setStrategy] = useState("");
  const [product, setProduct] = useState("");
  const [budget, setBudget] = useState("1000");
  const [trials, setTrials] = useState("50");
  const [objective, setObjective] = useState<Objective>("profit");
  const [second, setSecond] = useState<Objective | "">("");
  const [jobs, setJobs] = useState("");
  const [minTrades, setMinTrades] = useState("0");
  const [seed, setSeed] = useState("");
  const [walkForward, setWalkForward] = useState("");
  const [space, setSpace] = useState("");
  const chosenStrategy = strategy || strategies?.[0]?.name || "";
  const chosenProduct = product || products[0] || "";

  function whole(name: string, text: string, min: number): number {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || n < min) throw new Error(`${name}: give a whole number of at least ${min}`);
    return n;
  }

  function body(): Body {
    const paths = data.split("\n").map((line) => line.trim()).filter(Boolean);
    if (!paths.length) throw new Error("data: give at least one path (recordings, Parquet candles, JSON lines)");
    if (!chosenStrategy) throw new Error("strategy: choose one");
    if (!chosenProduct) throw new Error("product_id: choose one");
    const out: Body = {
      data: paths,
      strategy: chosenStrategy,
      product_id: chosenProduct,
      budget: budget.trim(),
      trials: whole("trials", trials, 1),
      objectives: second && second !== objective ? [objective, second] : [objective],
      min_trades: whole("min_trades", minTrades || "0", 0),
      space: parseSpace(space),
    };
    if (jobs.trim()) out.jobs = whole("jobs", jobs, 1);
    if (seed.trim()) out.seed = whole("seed", seed, 0);
    if (walkForward.trim()) out.walk_forward = walkForward.trim();
    return out;
  }

  const { error, busy, onSubmit } = useStartForm(() => api.post("/api/v1/optimizations", { body: body() }), onStarted);

  return (
    <Panel title="New parameter search" testId="optimize-form">
      <form
        className="bot-form"
        onSubmit={onSubmit}
      >
        <fieldset className="form-grid">
          <label className="wide">
            Data (one path a line, on the server: recordings, Parquet candles, JSON lines)
            <textarea name="data" rows={2} value={data} placeholder="/data/recordings" onChange={(e) => setData(e.target.value)} />
          </label>
          <label>
            Strategy
            <select name="strategy" value={chosenStrategy} onChange={(e) => setStrategy(e.target.value)}>
              {(strategies ?? []).map((s) => (
                <option key={s.name} value={s.name}>
                  {s.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Product
            <select name="product_id" value={chosenProduct} onChange={(e) => setProduct(e.target.value)}>
              {products.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label>
            Budget <small>{chosenProduct.split("-")[1] ?? "quote currency"}</small>
            <input name="budget" inputMode="decimal" value={budget} onChange={(e) => setBudget(e.target.value)} />
          </label>
          <label>
            Trials <small>finished trials the study should hold</small>
            <input name="trials" type="number" min={1} value={trials} onChange={(e) => setTrials(e.target.value)} />
          </label>
          <label>
            Objective
            <select name="objective" value={objective} onChange={(e) => setObjective(e.target.value as Objective)}>
              {OBJECTIVES.map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          </label>
          <label>
            Second objective <small>optional: NSGA-II, a Pareto front</small>
            <select name="second_objective" value={second} onChange={(e) => setSecond(e.target.value as Objective | "")}>
              <option value="">none (TPE)</option>
              {OBJECTIVES.filter((o) => o !== objective).map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          </label>
          <label>
            Jobs <small>worker processes, empty: all cores</small>
            <input name="jobs" type="number" min={1} value={jobs} onChange={(e) => setJobs(e.target.value)} />
          </label>
          <label>
            Min trades <small>fewer: the trial is pruned</small>
            <input name="min_trades" type="number" min={0} value={minTrades} onChange={(e) => setMinTrades(e.target.value)} />
          </label>
          <label>
            Seed <small>optional; with 1 job, the same result</small>
            <input name="seed" type="number" min={0} value={seed} onChange={(e) => setSeed(e.target.value)} />
          </label>
          <label>
            Walk-forward <small>TRAIN:TEST, optional</small>
            <input name="walk_forward" value={walkForward} placeholder="3d:1d" onChange={(e) => setWalkForward(e.target.value)} />
          </label>
          <label className="wide">
            Search space <small>optional JSON, as a --space file holds it; empty: the strategy's own</small>
            <textarea
              name="space"
              rows={2}
              value={space}
              spellCheck={false}
              placeholder='{"fast": {"low": 5, "high": 30, "step": 1}, "sell_on_cross": true}'
              onChange={(e) => setSpace(e.target.value)}
            />
          </label>
        </fieldset>
        {error && (
          <p className="form-error" role="alert" data-testid="optimize-error">
            {error}
          </p>
        )}
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy || strategies === null}>
            Start search
          </button>
        </div>
      </form>
    </Panel>
  );
}
