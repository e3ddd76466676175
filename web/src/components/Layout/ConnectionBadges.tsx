// Always visible: the dashboard's own sockets and the Coinbase market-data feed.
import { useDashboard } from "../../state/store";

const FEED_TONE: Record<string, string> = {
  live: "good",
  polling: "warn",
  stale: "warn",
  connecting: "warn",
  reconnecting: "warn",
  stopped: "bad",
};

export function ConnectionBadges() {
  const sockets = useDashboard((s) => s.sockets);
  const feed = useDashboard((s) => s.feed);
  const history = useDashboard((s) => s.feedHistory);
  const entriesBlocked = useDashboard((s) => s.entriesBlocked);
  const states = Object.values(sockets).map((v) => v.state);
  // The dashboard link is as good as its worst channel.
  const dashboard = states.includes("unauthorized")
    ? "unauthorized"
    : states.every((v) => v === "live")
      ? "live"
      : states.some((v) => v === "live")
        ? "partial"
        : "reconnecting";
  const detail = Object.entries(sockets)
    .map(([channel, v]) => `${channel}: ${v.state}${v.detail ? ` (${v.detail})` : ""}`)
    .join("\n");
  const dashTone = dashboard === "live" ? "good" : dashboard === "unauthorized" ? "bad" : "warn";
  const feedState = feed?.state ?? "unknown";
  return (
    <div className="badges">
      <span className={`badge badge-${dashTone}`} title={detail} data-testid="dashboard-connection" data-state={dashboard}>
        <i /> Dashboard {dashboard === "partial" ? "partly live" : dashboard}
        {dashboard !== "live" && dashboard !== "unauthorized" && <small> · polling REST</small>}
      </span>
      <span
        className={`badge badge-${FEED_TONE[feedState] ?? "warn"}`}
        title={`${feed?.reason || "Coinbase market-data feed"}\nrecent: ${history.join(" → ")}`}
        data-testid="feed-connection"
        data-state={feedState}
        data-history={history.join(" ")}
      >
        <i /> Coinbase feed {feedState}
        {feedState === "polling" && <small> · REST fallback</small>}
      </span>
      {entriesBlocked && (
        <span className="badge badge-bad" data-testid="entries-blocked" title="No bot opens a position until this clears; exits still run">
          <i /> Entries blocked: {entriesBlocked}
        </span>
      )}
    </div>
  );
}
