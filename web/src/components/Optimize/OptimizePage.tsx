// Optimize: start a parameter search, follow its trials live (optimizations.progress events of the
// status socket), see the best parameters so far and create a stopped bot from them. Each search
// runs on the server as a `streambot optimize` process of its own.
import { useEffect, useState } from "react";
import { api } from "../../api/client";
import { errorText, useRunList } from "../../hooks/useRuns";
import { dashboard, toast } from "../../state/controller";
import { onOptimizationProgress } from "../../state/optimizations";
import { Empty, Panel } from "../ui/Panel";
import { OptimizeForm } from "./OptimizeForm";
import { formatParam, formatValue, type Optimization, trialsFraction, withProgress } from "./progress";

const STATUS_CLASS: Record<Optimization["status"], string> = {
  running: "status-info",
  done: "state-good",
  failed: "state-bad",
  interrupted: "state-muted",
};

function TrialsBar({ run }: { run: Optimization }) {
  const fraction = trialsFraction(run);
  return (
    <div className="bt-progress" data-testid="optimization-progress">
      <div
        className={`bt-bar ${run.status}`}
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(fraction * 100)}
      >
        <span style={{ width: `${fraction * 100}%` }} />
      </div>
      <small className="muted" data-testid="optimization-trials">
        {run.trials} / {run.trials_target} trials
      </small>
    </div>
  );
}

function objectiveOf(run: Optimization): string {
  const objective = run.result?.objective;
  return Array.isArray(objective) ? objective.map(String).join(" + ") : typeof objective === "string" ? objective : "";
}

function CreateBot({ run }: { run: Optimization }) {
  const [name, setName] = useState(`${run.strategy}-${run.id}`);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function create(): Promise<void> {
    setError(null);
    setBusy(true);
    try {
      const bot = await api.post("/api/v1/optimizations/{optimization_id}/bots", {
        path: { optimization_id: run.id },
        body: { name: name.trim() },
      });
      toast("good", `Created ${bot.name}`, `#${bot.id}, stopped, with the search's best parameters; start it from the bots table`);
      void dashboard()?.loadBots();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      className="opt-create-bot"
      onSubmit={(e) => {
        e.preventDefault();
        void create();
      }}
    >
      <label>
        Bot name
        <input name="bot_name" value={name} maxLength={100} onChange={(e) => setName(e.target.value)} />
      </label>
      <button type="submit" className="primary" disabled={busy || !name.trim()} data-testid="optimization-create-bot">
        Create bot
      </button>
      {error && (
        <p className="form-error" role="alert" data-testid="optimization-bot-error">
          {error}
        </p>
      )}
    </form>
  );
}

function Figures({ values, testId }: { values: Record<string, unknown>; testId: string }) {
  const entries = Object.entries(values).filter(([, v]) => v === null || typeof v !== "object");
  if (!entries.length) return null;
  return (
    <dl className="opt-figures" data-testid={testId}>
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v === null ? "—" : formatParam(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function OptimizationDetail({ run, onClose }: { run: Optimization; onClose: () => void }) {
  const result = run.result ?? {};
  const importance = (result.importance ?? null) as Record<string, number> | null;
  const backtest = (result.backtest ?? null) as Record<string, unknown> | null;
  return (
    <Panel
      title={`Search ${run.id}: ${run.strategy} on ${run.product_id}`}
      testId="optimization-detail"
      actions={<button type="button" onClick={onClose}>Close</button>}
    >
      <p>
        <span className={`state ${STATUS_CLASS[run.status]}`}>{run.status}</span> · {run.trials} / {run.trials_target} trials
        {typeof result.pruned === "number" && ` (${result.pruned} pruned)`} · budget {run.budget}
        {objectiveOf(run) && ` · objective ${objectiveOf(run)}`} · best{" "}
        <strong data-testid="optimization-best-value">{formatValue(run.best_value)}</strong>
      </p>
      {run.error && <p className="form-error bt-error">{run.error}</p>}
      <h3>Best parameters</h3>
      {run.best_params ? (
        <>
          <Figures values={run.best_params} testId="optimization-best-params" />
          {run.status === "done" || run.status === "interrupted" ? (
            <CreateBot run={run} />
          ) : null}
        </>
      ) : (
        <Empty>{run.status === "running" ? "The best parameters come with the search's end." : "None: no trial finished."}</Empty>
      )}
      {importance && Object.keys(importance).length > 0 && (
        <>
          <h3>Parameter importance</h3>
          <Figures values={importance} testId="optimization-importance" />
        </>
      )}
      {backtest && (
        <>
          <h3>The best run's backtest</h3>
          <Figures values={backtest} testId="optimization-backtest" />
        </>
      )}
      {run.report && <p className="muted"><small>Report with plots on the server: {run.report}</small></p>}
    </Panel>
  );
}

// Newest first.
const fetchOptimizations = async (): Promise<Optimization[]> =>
  (await api.get("/api/v1/optimizations")).slice().reverse();
const isRunning = (run: Optimization): boolean => run.status === "running";

export function OptimizePage() {
  const { runs, setRuns, error, load } = useRunList(fetchOptimizations, isRunning);
  const [open, setOpen] = useState<string | null>(null);

  // Live: trials and best value patched in place; the end reloads (best parameters come with it).
  useEffect(
    () =>
      onOptimizationProgress((u) => {
        setRuns((current) => current?.map((r) => withProgress(r, u)) ?? current);
        if (u.status !== "running") void load();
      }),
    [load],
  );

  const opened = runs?.find((r) => r.id === open) ?? null;

  return (
    <div className="backtests-page" data-testid="optimize-page">
      <OptimizeForm
        onStarted={(run) => {
          setRuns((current) => [run, ...(current ?? []).filter((r) => r.id !== run.id)]);
          setOpen(run.id);
        }}
      />
      <Panel title="Parameter searches" testId="optimize-panel" actions={<button type="button" onClick={() => void load()}>Refresh</button>}>
        {error && <p className="form-error">{error}</p>}
        {runs === null ? (
          <Empty>Loading…</Empty>
        ) : runs.length === 0 ? (
          <Empty>No parameter searches yet: start one above.</Empty>
        ) : (
          <div className="table-scroll">
            <table className="cards-on-phone" data-testid="optimizations-table">
              <thead>
                <tr>
                  <th>Search</th><th>Status</th><th>Strategy</th><th>Progress</th><th className="num">Best</th><th>Started</th><th />
                </tr>
              </thead>
              <tbody>
                {runs.map((run) => (
                  <tr key={run.id} data-testid={`optimization-${run.id}`} data-status={run.status}>
                    <td data-label="Search">{run.id}</td>
                    <td data-label="Status">
                      <span className={`state ${STATUS_CLASS[run.status]}`}>{run.status}</span>
                    </td>
                    <td data-label="Strategy">
                      <small>
                        {run.strategy} · {run.product_id}
                      </small>
                    </td>
                    <td data-label="Progress">
                      <TrialsBar run={run} />
                    </td>
                    <td className="num" data-label="Best" data-testid="optimization-best">{formatValue(run.best_value)}</td>
                    <td data-label="Started">
                      <small>{new Date(run.started_at * 1000).toLocaleString("en-GB")}</small>
                    </td>
                    <td className="row-actions">
                      <button type="button" onClick={() => setOpen(run.id)}>
                        Details
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Panel>
      {opened && <OptimizationDetail key={opened.id} run={opened} onClose={() => setOpen(null)} />}
    </div>
  );
}
