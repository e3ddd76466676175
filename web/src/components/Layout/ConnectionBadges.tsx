// Always visible: the API connection, the market-data feed (and whose market it is), and whether
// entries are allowed. All three come from honestStatus(), as the risk panel's state does.
import { useStatus } from "../../hooks/useStatus";
import { agoText } from "../../state/status";
import { useDashboard } from "../../state/store";

const FEED_TONE: Record<string, string> = {
  live: "good",
  polling: "warn",
  stale: "warn",
  reconnecting: "warn",
  down: "bad",
  unknown: "muted",
};

export function ConnectionBadges() {
  const status = useStatus();
  const sockets = useDashboard((s) => s.sockets);
  const history = useDashboard((s) => s.feedHistory);
  const detail = Object.entries(sockets)
    .map(([channel, v]) => `${channel}: ${v.state}${v.detail ? ` (${v.detail})` : ""}`)
    .join("\n");
  const apiTone = status.api === "connected" ? "good" : status.api === "lost" ? "bad" : "warn";
  const apiText =
    status.api === "connected"
      ? "API live"
      : status.api === "polling"
        ? "API polling"
        : status.api === "lost"
          ? `API lost · last update ${agoText(status.lastUpdateAgo)}`
          : "API connecting";
  return (
    <div className="badges">
      <span className={`badge badge-${apiTone}`} title={detail} data-testid="dashboard-connection" data-state={status.api}>
        <i /> {apiText}
      </span>
      <span
        className={`badge badge-${FEED_TONE[status.feed] ?? "warn"}`}
        title={`${status.feedReason || "market-data feed"}\nrecent: ${history.join(" → ")}`}
        data-testid="feed-connection"
        data-state={status.feed}
        data-market={status.market}
        data-history={history.join(" ")}
      >
        <i /> {status.market} feed {status.feed}
        {status.feed === "polling" && <small> · REST fallback</small>}
      </span>
      <span
        className={`badge badge-${status.entriesAllowed === null ? "muted" : status.entriesAllowed ? "good" : "bad"}`}
        data-testid="entries"
        data-allowed={String(status.entriesAllowed)}
        title="Whether bots may open positions now; exits always run"
      >
        <i /> {status.entriesAllowed === null ? `Entries ${status.entriesReason}` : status.entriesAllowed ? "Entries allowed" : `Entries blocked: ${status.entriesReason}`}
      </span>
    </div>
  );
}
