import { describe, expect, it } from "vitest";
import { honestStatus } from "./status";
import { initialState } from "./store";

const live = () => {
  const s = initialState();
  for (const c of Object.values(s.sockets)) c.state = "live";
  return { ...s, lastContact: 1_000_000, feed: { state: "live", reason: "", since: null }, market: "simulator" };
};

describe("honestStatus", () => {
  it("is live, on the simulator, with entries allowed", () => {
    expect(honestStatus(live(), 1_001_000)).toMatchObject({ api: "connected", feed: "live", market: "Simulator", entriesAllowed: true });
  });

  it("says why entries are refused", () => {
    const s = { ...live(), entriesBlocked: "feed not live (polling)", feed: { state: "polling", reason: "", since: null } };
    expect(honestStatus(s, 1_001_000)).toMatchObject({ feed: "polling", entriesAllowed: false, entriesReason: "feed not live (polling)" });
  });

  it("claims nothing once the API has been silent", () => {
    const status = honestStatus(live(), 1_020_000);
    expect(status).toMatchObject({ api: "lost", feed: "unknown", entriesAllowed: null });
    expect(status.lastUpdateAgo).toBe(20);
  });

  it("polls when a socket is down but REST answers", () => {
    const s = live();
    s.sockets.status = { state: "reconnecting", detail: "" };
    expect(honestStatus(s, 1_001_000).api).toBe("polling");
  });
});
