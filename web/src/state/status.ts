// One source of truth for "is this live?": the header, the risk panel and the tiles all read
// honestStatus(), so they can never disagree (a green feed badge beside a dead API, say).
import type { DashboardState } from "./store";

/** Without a frame or a REST reply for this long, the dashboard says it lost the API. */
export const API_LOST_MS = 8_000;

export type FeedShown = "live" | "reconnecting" | "polling" | "stale" | "down" | "unknown";

export interface HonestStatus {
  /** connected: sockets live; polling: REST only; lost: the API has not answered lately. */
  api: "connected" | "polling" | "lost" | "connecting";
  /** Seconds since the API last answered, null before it ever did. */
  lastUpdateAgo: number | null;
  feed: FeedShown;
  /** "Coinbase" or "Simulator": whose prices these are. */
  market: string;
  entriesAllowed: boolean | null;
  /** Why entries are refused, or why that is not known. */
  entriesReason: string;
  feedReason: string;
}

const FEED: Record<string, FeedShown> = {
  live: "live",
  connecting: "reconnecting",
  reconnecting: "reconnecting",
  polling: "polling",
  stale: "stale",
  stopped: "down",
  down: "down",
};

export function honestStatus(s: DashboardState, nowMs: number): HonestStatus {
  const ago = s.lastContact === null ? null : Math.max(0, (nowMs - s.lastContact) / 1000);
  const sockets = Object.values(s.sockets).map((v) => v.state);
  const lost = s.lastContact !== null && nowMs - s.lastContact > API_LOST_MS;
  const api: HonestStatus["api"] =
    s.lastContact === null ? "connecting" : lost ? "lost" : sockets.every((v) => v === "live") ? "connected" : "polling";
  const market = s.market === "simulator" ? "Simulator" : s.market === "coinbase" ? "Coinbase" : "Market";
  if (api === "lost" || api === "connecting") {
    return {
      api,
      lastUpdateAgo: ago,
      feed: "unknown",
      market,
      entriesAllowed: null,
      entriesReason: api === "lost" ? "unknown: the dashboard lost the API" : "waiting for the API",
      feedReason: api === "lost" ? `last seen ${s.feed?.state ?? "unknown"}` : "",
    };
  }
  const halted = Boolean(s.risk?.account.halted || s.risk?.account.kill_switch);
  const blocked = s.entriesBlocked ?? (halted ? "trading halted" : null);
  return {
    api,
    lastUpdateAgo: ago,
    feed: FEED[s.feed?.state ?? ""] ?? "unknown",
    market,
    entriesAllowed: blocked === null,
    entriesReason: blocked ?? "",
    feedReason: s.feed?.reason ?? "",
  };
}

export function agoText(seconds: number | null): string {
  if (seconds === null) return "never";
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}
