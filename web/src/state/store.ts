// The dashboard's state: one object, replaced slice by slice, with listeners told at most once per
// animation frame. Eight products ticking ten times a second become one render per frame, not 80.
import { useSyncExternalStore } from "react";
import type { BotStatus, Schemas, Trade } from "../api/client";
import type { OrderData, TickerFrame } from "../stream/frames";
import type { SocketState } from "../stream/socket";

export type Channel = "market" | "trade-execution" | "status";

export interface SocketView {
  state: SocketState;
  detail: string;
}

export interface FeedView {
  state: string;
  reason: string;
  since: number | null;
}

export interface TickerView extends TickerFrame {
  previous: number | null;
  receivedAt: number;
}

export interface OrderView {
  order: OrderData;
  /** Event time (unix s) of each status this order went through, as the events arrived. */
  seen: Record<string, number>;
  updatedAt: number;
}

export interface FeedItem {
  key: string;
  id: number | null;
  topic: string;
  ts: number;
  botId: number | null;
  productId: string | null;
  text: string;
  tone: "buy" | "sell" | "good" | "bad" | "info" | "warn";
}

export interface Toast {
  id: number;
  tone: "good" | "bad" | "info" | "warn";
  title: string;
  body: string;
  /** Toasts of one group (say "feed" or "filled ETH-USD by bot 3") replace each other and count up. */
  group: string;
  count: number;
}

/** A notification kept in the centre after its toast has gone (or when it was never shown). */
export interface Notice {
  id: number;
  tone: Toast["tone"];
  title: string;
  body: string;
  at: number;
}

export interface LogLine {
  id: number;
  ts: number;
  level: string;
  logger: string;
  message: string;
}

export interface StrategyInfo {
  name: string;
  description: string;
  schema: JsonSchema;
  defaults: Record<string, unknown>;
}

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  const?: unknown;
}

export interface AlertView {
  code: string;
  severity: string;
  message: string;
  since: number;
}

export interface DashboardState {
  signedIn: boolean;
  authError: string;
  sockets: Record<Channel, SocketView>;
  feed: FeedView | null;
  /** The feed's recent states, oldest first (a reconnect can be over within one frame). */
  feedHistory: string[];
  /** Why entries are refused (from the status frame), null when they are not. */
  entriesBlocked: string | null;
  tickers: Record<string, TickerView>;
  history: Record<string, number[]>;
  products: string[];
  bots: BotStatus[] | null;
  botsError: string;
  strategies: StrategyInfo[] | null;
  orders: Record<string, OrderView>;
  orderIds: string[];
  events: FeedItem[];
  trades: Trade[];
  metrics: Record<string, unknown> | null;
  health: Record<string, unknown> | null;
  risk: Schemas["RiskOut"] | null;
  alerts: Record<string, AlertView>;
  toasts: Toast[];
  notices: Notice[];
  unread: number;
  /** When (ms) the API last answered: a frame on any socket or a REST reply. */
  lastContact: number | null;
  /** Whose market the prices are ("simulator" or "coinbase") and the trading mode, from the status frame. */
  market: string | null;
  mode: string | null;
  logs: LogLine[];
}

const initialSocket = (): SocketView => ({ state: "connecting", detail: "" });

export function initialState(): DashboardState {
  return {
    signedIn: false,
    authError: "",
    sockets: { market: initialSocket(), "trade-execution": initialSocket(), status: initialSocket() },
    feed: null,
    feedHistory: [],
    entriesBlocked: null,
    tickers: {},
    history: {},
    products: [],
    bots: null,
    botsError: "",
    strategies: null,
    orders: {},
    orderIds: [],
    events: [],
    trades: [],
    metrics: null,
    health: null,
    risk: null,
    alerts: {},
    toasts: [],
    notices: [],
    unread: 0,
    lastContact: null,
    market: null,
    mode: null,
    logs: [],
  };
}

type Listener = () => void;

export class Store {
  private state: DashboardState = initialState();
  private readonly listeners = new Set<Listener>();
  private frame: number | null = null;

  get = (): DashboardState => this.state;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  update(change: (s: DashboardState) => Partial<DashboardState>): void {
    this.state = { ...this.state, ...change(this.state) };
    this.schedule();
  }

  private schedule(): void {
    if (this.frame !== null) return;
    const flush = () => {
      this.frame = null;
      for (const listener of this.listeners) listener();
    };
    // Background tabs get no animation frames; a timer keeps state current for when they return.
    this.frame =
      typeof requestAnimationFrame === "function" && document.visibilityState === "visible"
        ? requestAnimationFrame(flush)
        : (setTimeout(flush, 250) as unknown as number);
  }
}

export const store = new Store();

export function useDashboard<T>(select: (s: DashboardState) => T): T {
  return useSyncExternalStore(store.subscribe, () => select(store.get()));
}
