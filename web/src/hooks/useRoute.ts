// Hash routes (#/ and #/bots/3), so the server only ever serves one page.
import { useSyncExternalStore } from "react";

function subscribe(listener: () => void): () => void {
  window.addEventListener("hashchange", listener);
  return () => window.removeEventListener("hashchange", listener);
}

export type Route = { page: "home" } | { page: "bot"; botId: number };

export function parseRoute(hash: string): Route {
  const match = /^#\/bots\/(\d+)/.exec(hash);
  return match?.[1] ? { page: "bot", botId: Number(match[1]) } : { page: "home" };
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return parseRoute(hash);
}
