// Hash routes (#/, #/bots/3, #/backtests…), so the server only ever serves one page.
import { useSyncExternalStore } from "react";

function subscribe(listener: () => void): () => void {
  window.addEventListener("hashchange", listener);
  return () => window.removeEventListener("hashchange", listener);
}

export type Route = { page: "home" } | { page: "bot"; botId: number } | { page: "backtests"; botId: number | null };

export function parseRoute(hash: string): Route {
  const match = /^#\/bots\/(\d+)/.exec(hash);
  if (match?.[1]) return { page: "bot", botId: Number(match[1]) };
  const [path, query] = hash.split("?");
  if (path?.replace(/\/$/, "") === "#/backtests") {
    // #/backtests?bot=3: "Backtest this bot" opens the form with bot 3 picked.
    const bot = new URLSearchParams(query ?? "").get("bot");
    return { page: "backtests", botId: bot && /^\d+$/.test(bot) ? Number(bot) : null };
  }
  return { page: "home" };
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return parseRoute(hash);
}
