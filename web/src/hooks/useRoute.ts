// Hash routes (#/, #/portfolio, #/bots/3…), so the server only ever serves one page.
import { useSyncExternalStore } from "react";

function subscribe(listener: () => void): () => void {
  window.addEventListener("hashchange", listener);
  return () => window.removeEventListener("hashchange", listener);
}

export type Page = "home" | "portfolio" | "backtests" | "optimize" | "logs";

export type Route = { page: Page } | { page: "bot"; botId: number };

const PAGES: Record<string, Page> = {
  "#/portfolio": "portfolio",
  "#/backtests": "backtests",
  "#/optimize": "optimize",
  "#/logs": "logs",
};

export function parseRoute(hash: string): Route {
  const match = /^#\/bots\/(\d+)/.exec(hash);
  if (match?.[1]) return { page: "bot", botId: Number(match[1]) };
  const page = PAGES[hash.replace(/\/$/, "").split("?")[0] ?? ""];
  return { page: page ?? "home" };
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return parseRoute(hash);
}
