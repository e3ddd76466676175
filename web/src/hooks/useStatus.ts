import { type HonestStatus, honestStatus } from "../state/status";
import { store, useDashboard } from "../state/store";
import { useNow } from "./useNow";

/** The dashboard's honest status, re-read every second (so "N s ago" counts and a silent API
 * turns the page grey even when no new state arrives). */
export function useStatus(): HonestStatus {
  const now = useNow(1000);
  // Subscribe to the slices the status is made of; compute from the whole state.
  useDashboard((s) => s.lastContact);
  useDashboard((s) => s.sockets);
  useDashboard((s) => s.feed);
  useDashboard((s) => s.entriesBlocked);
  useDashboard((s) => s.risk);
  useDashboard((s) => s.market);
  return honestStatus(store.get(), now * 1000);
}
