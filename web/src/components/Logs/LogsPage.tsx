// The platform's own log records, live: the newest from GET /api/v1/logs, then each new one from
// the logs channel (/api/v1/ws/logs). Filter by level and search text; pause to read.
import { useEffect, useMemo, useState } from "react";
import { api } from "../../api/client";
import { dashboard, errorText } from "../../state/controller";
import type { SocketState } from "../../stream/socket";
import { type LogLine, useDashboard } from "../../state/store";
import { Panel } from "../ui/Panel";

const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;
const RANK: Record<string, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };

export function visible(lines: LogLine[], level: string, search: string): LogLine[] {
  const floor = RANK[level] ?? 0;
  const needle = search.trim().toLowerCase();
  return lines.filter(
    (l) => (RANK[l.level] ?? 0) >= floor && (!needle || l.message.toLowerCase().includes(needle) || l.logger.toLowerCase().includes(needle)),
  );
}

export function LogsPage() {
  const lines = useDashboard((s) => s.logs);
  const [level, setLevel] = useState("INFO");
  const [search, setSearch] = useState("");
  const [error, setError] = useState("");
  const [channel, setChannel] = useState<SocketState>("connecting");

  useEffect(() => dashboard()?.watchLogs(setChannel), []);
  // On open and on every (re)connect: what was logged before, or while the socket was down.
  useEffect(() => {
    if (channel !== "live") return;
    api
      .get("/api/v1/logs", { query: { level: "DEBUG", limit: 1000 } })
      .then((page) => {
        dashboard()?.addLogs(page.entries);
        setError("");
      })
      .catch((e: unknown) => setError(errorText(e)));
  }, [channel]);

  const shown = useMemo(() => visible(lines, level, search).slice(-500).reverse(), [lines, level, search]);
  return (
    <Panel
      title="Logs"
      testId="logs-panel"
      actions={
        <span className={`badge badge-${channel === "live" ? "good" : "warn"}`} data-testid="logs-channel" data-state={channel}>
          <i /> {channel === "live" ? "live" : channel}
        </span>
      }
    >
      <div className="chart-toolbar">
        <select aria-label="Level" value={level} onChange={(e) => setLevel(e.target.value)} data-testid="log-level" style={{ width: "auto" }}>
          {LEVELS.map((l) => (
            <option key={l} value={l}>
              {l} and above
            </option>
          ))}
        </select>
        <input type="search" placeholder="Search messages…" value={search} onChange={(e) => setSearch(e.target.value)} data-testid="log-search" style={{ flex: 1, minWidth: 140 }} />
        <small className="muted">
          {shown.length} of {lines.length} records
        </small>
      </div>
      {error && <p className="form-error">Could not read the logs: {error}</p>}
      <ol className="log-lines" data-testid="log-lines">
        {shown.length === 0 && <li className="empty">No log records match.</li>}
        {shown.map((l) => (
          <li key={l.id} className={`log-${l.level.toLowerCase()}`} data-testid="log-line" data-level={l.level}>
            <time>{new Date(l.ts * 1000).toLocaleTimeString("en-GB", { hour12: false })}</time>
            <b>{l.level}</b>
            <code>{l.logger}</code>
            <span>{l.message}</span>
          </li>
        ))}
      </ol>
    </Panel>
  );
}
