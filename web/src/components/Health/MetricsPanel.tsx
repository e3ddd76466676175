// The figures users watch: ticks/s, tick→decision p50/p99, cache hit rate, feed uptime,
// reconnects, 429s, breaker state; everything else the summary carries folds out below.
import { formatUs } from "../../state/format";
import { useDashboard } from "../../state/store";
import { Empty, Panel } from "../ui/Panel";
import { flatten, humanize, show } from "./flatten";

type Json = Record<string, unknown>;

function at(value: unknown, ...path: string[]): unknown {
  let v: unknown = value;
  for (const key of path) v = v && typeof v === "object" ? (v as Json)[key] : undefined;
  return v;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

function pct(v: unknown): string {
  const n = num(v);
  return n === null ? "—" : `${(n * 100).toFixed(n >= 0.995 || n === 0 ? 0 : 1)}%`;
}

export function headlines(m: Json): [string, string, string?][] {
  const ticksPerSecond = num(m.ticks_per_second) ?? num(at(m, "feed", "messages_per_second"));
  const breaker = String(at(m, "exchange", "breaker_state") ?? "—");
  const uptime = num(at(m, "feed", "uptime_ratio"));
  const r429 = (num(at(m, "exchange", "rate_limited_429")) ?? 0) + (num(at(m, "rest", "rate_limited_429")) ?? 0);
  return [
    ["ticks/s", ticksPerSecond === null ? "—" : ticksPerSecond.toFixed(1)],
    ["tick→decision p50", formatUs(num(at(m, "tick_to_decision_us", "p50")))],
    ["tick→decision p99", formatUs(num(at(m, "tick_to_decision_us", "p99")))],
    ["cache hit rate", pct(at(m, "balance_cache", "hit_rate"))],
    ["feed uptime", uptime === null ? "—" : pct(uptime)],
    ["reconnects", show(num(at(m, "feed", "reconnects")))],
    ["429s", String(r429), r429 > 0 ? "warn" : ""],
    ["breaker", breaker, breaker === "closed" ? "" : "bad"],
  ];
}

export function MetricsPanel() {
  const metrics = useDashboard((s) => s.metrics);
  const alerts = useDashboard((s) => s.alerts);
  const active = Object.values(alerts);
  return (
    <Panel title="Health" testId="metrics-panel">
      {active.length > 0 && (
        <ul className="alerts" data-testid="alerts">
          {active.map((a) => (
            <li key={a.code} className={`alert alert-${a.severity}`}>
              <strong>{a.code}</strong> {a.message}
            </li>
          ))}
        </ul>
      )}
      {metrics === null ? (
        <Empty>Loading metrics…</Empty>
      ) : (
        <>
          <dl className="metrics">
            {headlines(metrics).map(([label, value, tone]) => (
              <div key={label} className={`headline ${tone ?? ""}`}>
                <dt>{label}</dt>
                <dd>{value}</dd>
              </div>
            ))}
          </dl>
          <details className="more">
            <summary>All figures</summary>
            <dl className="metrics">
              {flatten(metrics)
                .filter(([k]) => k)
                .map(([key, value]) => (
                  <div key={key}>
                    <dt title={key}>{humanize(key)}</dt>
                    <dd>{show(value)}</dd>
                  </div>
                ))}
            </dl>
          </details>
        </>
      )}
    </Panel>
  );
}
