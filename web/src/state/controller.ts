// Feeds the store: three dashboard sockets (market, trade-execution, status) for live data, plus
// a bot's own socket while its page is open; REST for the initial state and for whatever a socket
// cannot deliver right now (polling fallback).
import { type BacktestUpdate, publishBacktestUpdate } from "./backtests";
import { type OptimizationProgress, publishOptimizationProgress } from "./optimizations";
import { api, ApiError, configureClient, describeDetail, type Trade } from "../api/client";
import type { EventFrame, Frame, OrderData, StatusFrame, TickerFrame } from "../stream/frames";
import { channelUrl, EventStream, type SocketState } from "../stream/socket";
import { formatPrice, formatSize, isoToUnix } from "./format";
import { type Channel, type DashboardState, type FeedItem, type LogLine, type OrderView, type StrategyInfo, store, type Toast } from "./store";

const HISTORY = 120;
const MAX_EVENTS = 300;
const MAX_ORDERS = 200;
const MAX_TRADES = 500;
const MAX_LOGS = 2000;
/** Event ids remembered to drop the copies of one event that several channels carry. */
const SEEN_EVENTS = 2000;

let toastId = 0;
const MAX_NOTICES = 200;
/** At most this many new toasts per window; the rest go to the notification centre only. */
const TOAST_BUDGET = 3;
const TOAST_WINDOW_MS = 10_000;
const MAX_VISIBLE = 3;
const shownAt: number[] = [];
const timers = new Map<number, ReturnType<typeof setTimeout>>();

/** Tell the trader something: always kept in the notification centre; shown as a toast unless one
 * of its group is showing already (that one is updated and counts up) or too many came lately. */
export function toast(tone: Toast["tone"], title: string, body = "", options: { group?: string; ms?: number } = {}): void {
  const group = options.group ?? title;
  const ms = options.ms ?? (tone === "bad" ? 10_000 : 6_000);
  const now = Date.now();
  const id = ++toastId;
  store.update((s) => ({
    notices: [{ id, tone, title, body, at: now }, ...s.notices].slice(0, MAX_NOTICES),
    unread: s.unread + 1,
  }));
  const existing = store.get().toasts.find((t) => t.group === group);
  if (existing) {
    store.update((s) => ({
      toasts: s.toasts.map((t) => (t.id === existing.id ? { ...t, tone, title, body, count: t.count + 1 } : t)),
    }));
    schedule(existing.id, ms);
    return;
  }
  while (shownAt.length && now - (shownAt[0] ?? 0) > TOAST_WINDOW_MS) shownAt.shift();
  if (shownAt.length >= TOAST_BUDGET && tone !== "bad") return;
  shownAt.push(now);
  store.update((s) => ({ toasts: [...s.toasts, { id, tone, title, body, group, count: 1 }].slice(-MAX_VISIBLE) }));
  schedule(id, ms);
}

function schedule(id: number, ms: number): void {
  const before = timers.get(id);
  if (before) clearTimeout(before);
  timers.set(
    id,
    setTimeout(() => dismissToast(id), ms),
  );
}

export function dismissToast(id: number): void {
  timers.delete(id);
  store.update((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
}

export function markNoticesRead(): void {
  store.update(() => ({ unread: 0 }));
}

/** A bot as people call it: its name and id ("Trend ETH (#3)"), or "bot 3" before bots load. */
export function botLabel(botId: unknown): string {
  const id = Number(botId);
  const bot = store.get().bots?.find((b) => b.id === id);
  return bot ? `${bot.name} (#${id})` : `bot ${id}`;
}

/** What went wrong, in the server's words when it said any. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return describeDetail(error.detail) || error.message;
  return error instanceof Error ? error.message : String(error);
}

/** What an order has filled so far, as "0.5 " and " @ 2,345.67" (empty before any fill). */
function fillParts(order: OrderData): [size: string, price: string] {
  const size = order.filled_size && Number(order.filled_size) ? `${formatSize(order.filled_size)} ` : "";
  const price = order.average_price && Number(order.average_price) ? ` @ ${formatPrice(order.average_price)}` : "";
  return [size, price];
}

function applyTicker(t: TickerFrame, s: DashboardState): Partial<DashboardState> {
  const previous = s.tickers[t.product_id];
  const history = s.history[t.product_id] ?? [];
  const next = history.length >= HISTORY ? history.slice(history.length - HISTORY + 1) : history.slice();
  next.push(t.price);
  return {
    tickers: { ...s.tickers, [t.product_id]: { ...t, previous: previous?.price ?? null, receivedAt: Date.now() } },
    history: { ...s.history, [t.product_id]: next },
    products: s.products.includes(t.product_id) ? s.products : [...s.products, t.product_id],
  };
}

export function applyOrder(order: OrderData, ts: number, s: DashboardState): Partial<DashboardState> {
  const id = order.client_order_id;
  const previous: OrderView | undefined = s.orders[id];
  const view: OrderView = {
    order: { ...previous?.order, ...order },
    seen: { ...previous?.seen, [order.status]: ts },
    updatedAt: ts,
  };
  const orders = { ...s.orders, [id]: view };
  let orderIds = previous ? s.orderIds : [id, ...s.orderIds];
  if (orderIds.length > MAX_ORDERS) {
    for (const dropped of orderIds.slice(MAX_ORDERS)) delete orders[dropped];
    orderIds = orderIds.slice(0, MAX_ORDERS);
  }
  return { orders, orderIds };
}

export class Dashboard {
  private readonly streams = new Map<Channel, EventStream>();
  private readonly intervals: ReturnType<typeof setInterval>[] = [];
  private botsRefresh: ReturnType<typeof setTimeout> | null = null;
  // Insertion-ordered, so the oldest id is the first one evicted.
  private readonly seenEvents = new Set<number>();
  private readonly tickListeners = new Set<(t: TickerFrame) => void>();

  constructor(private readonly token: string) {}

  start(): void {
    configureClient(this.token, () =>
      store.update(() => ({ signedIn: false, authError: "The server did not accept the saved token." })),
    );
    store.update(() => ({ signedIn: true, authError: "" }));
    void this.loadAll();
    for (const channel of ["market", "trade-execution", "status"] as const) {
      const query: Record<string, number> = channel === "market" ? { max_rate: 10 } : {};
      const stream = new EventStream({
        url: channelUrl(channel, query),
        token: this.token,
        onFrame: (frame) => this.onFrame(frame),
        onState: (state, detail) => this.onSocketState(channel, state, detail),
        onReset: () => void this.loadAll(),
      });
      this.streams.set(channel, stream);
      stream.start();
    }
    this.every(2000, () => this.socketLive("market") || this.loadTickers());
    this.every(2000, () => this.socketLive("status") || this.loadFeed());
    this.every(3000, () => this.loadBots());
    this.every(3000, () => this.socketLive("status") || this.loadMetrics());
    this.every(5000, () => this.loadRisk());
    this.every(5000, () => this.socketLive("status") || this.loadHealth());
    // Orders and trades come as events; without the socket they are polled.
    this.every(3000, () => this.socketLive("trade-execution") || Promise.all([this.loadOrders(), this.loadTrades()]));
  }

  stop(): void {
    for (const stream of this.streams.values()) stream.stop();
    for (const handle of this.intervals) clearInterval(handle);
  }

  /** Follow one bot's channel (its events, `bots.state` among them) until the returned stop is called. */
  watchBot(botId: number, onState: (state: SocketState) => void): () => void {
    const stream = new EventStream({
      // Its product's tickers come on the market channel already: ask for as few as allowed.
      url: channelUrl(`bots/${botId}`, { max_rate: 0.1 }),
      token: this.token,
      onFrame: (frame) => {
        if (frame.type === "event") this.onEventFrame(frame);
      },
      onState,
      onReset: () => void this.loadAll(),
    });
    stream.start();
    return () => stream.stop();
  }

  /** Follow the platform's log records until the returned stop is called. */
  watchLogs(onState: (state: SocketState) => void): () => void {
    const stream = new EventStream({
      url: channelUrl("logs", {}),
      token: this.token,
      onFrame: (frame) => {
        if (frame.type === "log") this.addLogs([frame.entry]);
      },
      onState,
      // Missed records are read again over REST (ids are the ring's: no resume on the socket).
      onReset: () => undefined,
    });
    stream.start();
    return () => stream.stop();
  }

  addLogs(entries: LogLine[]): void {
    if (!entries.length) return;
    store.update((s) => {
      const known = new Set(s.logs.map((l) => l.id));
      const fresh = entries.filter((e) => !known.has(e.id));
      if (!fresh.length) return {};
      return { logs: [...s.logs, ...fresh].sort((a, b) => a.id - b.id).slice(-MAX_LOGS) };
    });
  }

  onTick(listener: (t: TickerFrame) => void): () => void {
    this.tickListeners.add(listener);
    return () => this.tickListeners.delete(listener);
  }

  private every(ms: number, fn: () => unknown): void {
    this.intervals.push(
      setInterval(() => {
        void Promise.resolve(fn()).catch(() => undefined);
      }, ms),
    );
  }

  /** The API answered: the header's "last update" and the grey-out key off this. */
  private contact(): void {
    const now = Date.now();
    const before = store.get().lastContact;
    if (before === null || now - before > 500) store.update(() => ({ lastContact: now }));
  }

  private socketLive(channel: Channel): boolean {
    return store.get().sockets[channel].state === "live";
  }

  async loadAll(): Promise<void> {
    await Promise.allSettled([
      this.loadTickers(),
      this.loadFeed(),
      this.loadStrategies(),
      this.loadBots(),
      this.loadTrades(),
      this.loadOrders(),
      this.loadMetrics(),
      this.loadRisk(),
      this.loadHealth(),
    ]);
  }

  async loadTickers(): Promise<void> {
    const tickers = await api.get("/api/v1/market/tickers");
    for (const t of tickers) this.onTicker({ ...t, type: "ticker" });
  }

  async loadFeed(): Promise<void> {
    const status = await api.get("/api/v1/ws/websocket/status");
    const state = String(status.state ?? "unknown");
    this.setFeed(state, "", null);
  }

  async loadStrategies(): Promise<void> {
    const strategies = (await api.get("/api/v1/strategies")) as unknown as StrategyInfo[];
    store.update(() => ({ strategies }));
  }

  async loadBots(): Promise<void> {
    try {
      const bots = await api.get("/api/v1/bots/status/enhanced");
      this.contact();
      store.update(() => ({ bots, botsError: "" }));
    } catch (error) {
      store.update(() => ({ botsError: errorText(error) }));
    }
  }

  async loadTrades(): Promise<void> {
    const page = await api.get("/api/v1/trades", { query: { limit: 200 } });
    // A union, not a replacement: a trade pushed while this request was under way may be newer
    // than the page the server had read.
    store.update((s) => {
      const listed = new Set(page.trades.map((t) => t.client_order_id));
      const trades = [...page.trades, ...s.trades.filter((t) => !listed.has(t.client_order_id))];
      trades.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
      return { trades: trades.slice(0, MAX_TRADES) };
    });
  }

  async loadOrders(): Promise<void> {
    const { orders } = await api.get("/api/v1/orders", { query: { limit: 200 } });
    store.update((s) => {
      let next: Partial<DashboardState> = {};
      let view: DashboardState = s;
      // Oldest first so the newest ends up on top.
      for (const order of [...orders].reverse()) {
        const ts = isoToUnix(order.completed_at ?? order.acknowledged_at ?? order.submitted_at ?? order.created_at) ?? 0;
        const existing = view.orders[order.client_order_id];
        if (existing && existing.updatedAt >= ts) continue;
        next = applyOrder(order, ts, view);
        view = { ...view, ...next };
      }
      // A page opened after the fact still shows what happened recently.
      const events = s.events.length
        ? s.events
        : orders.slice(0, 50).map((order) => this.orderItem(order, `orders.${order.status}`, isoToUnix(order.completed_at ?? order.created_at) ?? 0, null));
      return { orders: view.orders, orderIds: view.orderIds, events };
    });
  }

  private orderItem(order: OrderData, topic: string, ts: number, id: number | null): FeedItem {
    const [size, price] = fillParts(order);
    const status = topic.slice("orders.".length);
    const bad = status === "rejected" || status === "failed";
    return {
      key: id === null ? `rest-${order.client_order_id}` : `${id}`,
      id,
      topic,
      ts,
      botId: order.bot_id,
      productId: order.product_id,
      text: `${order.side} ${size}${order.product_id}${price} — ${status}${bad ? `: ${order.error || order.reason}` : ""}`,
      tone: bad ? "bad" : status === "filled" ? (order.side === "BUY" ? "buy" : "sell") : "info",
    };
  }

  async loadMetrics(): Promise<void> {
    const metrics = await api.get("/api/v1/metrics/summary");
    this.contact();
    const blocked = metrics.entries_blocked;
    store.update(() => ({
      metrics,
      // Polled only while the status socket is down: then this is the one word on entries.
      ...(this.socketLive("status") ? {} : { entriesBlocked: typeof blocked === "string" ? blocked : null }),
      ...(typeof metrics.market === "string" ? { market: metrics.market } : {}),
    }));
  }

  async loadRisk(): Promise<void> {
    const risk = await api.get("/api/v1/risk");
    store.update(() => ({ risk }));
  }

  async loadHealth(): Promise<void> {
    const health = (await api.get("/api/v1/health")) as Record<string, unknown>;
    this.contact();
    const market = health.market_data === "sim" ? "simulator" : typeof health.market_data === "string" ? health.market_data : null;
    store.update(() => ({ health, market, mode: typeof health.mode === "string" ? health.mode : null }));
  }

  refreshBotsSoon(): void {
    if (this.botsRefresh !== null) return;
    this.botsRefresh = setTimeout(() => {
      this.botsRefresh = null;
      void this.loadBots();
    }, 150);
  }

  // --- sockets ------------------------------------------------------------------------------

  private onSocketState(channel: Channel, state: SocketState, detail: string): void {
    const before = store.get().sockets[channel].state;
    store.update((s) => ({ sockets: { ...s.sockets, [channel]: { state, detail } } }));
    // One toast for the dashboard connection as a whole, not one per channel.
    if (channel !== "trade-execution") return;
    // What happened between the first REST load and this socket's first event is in neither:
    // read the records once more now that nothing further can be missed.
    if (before === "connecting" && state === "live") void this.loadAll();
    if (before === "live" && state === "reconnecting") toast("warn", "Dashboard connection lost", detail, { group: "dashboard-connection" });
    else if (before === "reconnecting" && state === "live") {
      toast("good", "Dashboard connection back", "resumed from the last event seen", { group: "dashboard-connection" });
      void this.loadAll();
    } else if (state === "unauthorized") {
      store.update(() => ({ signedIn: false, authError: "The server did not accept the saved token." }));
    }
  }

  private onFrame(frame: Frame): void {
    this.contact();
    switch (frame.type) {
      case "tickers":
        for (const t of frame.tickers) this.onTicker({ ...t, type: "ticker" });
        break;
      case "status":
        this.onStatus(frame);
        break;
      case "event":
        this.onEventFrame(frame);
        break;
      default:
        break;
    }
  }

  private onTicker(t: TickerFrame): void {
    store.update((s) => applyTicker(t, s));
    for (const listener of this.tickListeners) listener(t);
  }

  private onStatus(frame: StatusFrame): void {
    const feed = frame.feed ?? {};
    const metrics = frame.metrics && Object.keys(frame.metrics).length ? frame.metrics : store.get().metrics;
    store.update(() => ({
      metrics,
      health: frame.health ?? null,
      entriesBlocked: frame.entries_blocked ?? null,
      market: frame.market ?? null,
      mode: frame.mode ?? null,
    }));
    if (typeof feed.state === "string") {
      this.setFeed(feed.state, String(feed.reason ?? ""), typeof feed.since === "number" ? feed.since : null);
    }
  }

  private setFeed(state: string, reason: string, since: number | null): void {
    const before = store.get().feed;
    if (before && before.state === state && before.reason === reason) return;
    store.update((s) => ({
      feed: { state, reason, since: since ?? before?.since ?? null },
      feedHistory: before?.state === state ? s.feedHistory : [...s.feedHistory, state].slice(-10),
    }));
    if (before && before.state !== state) {
      const tone = state === "live" ? "good" : state === "stopped" ? "info" : "warn";
      const market = store.get().market === "simulator" ? "Simulator" : "Coinbase";
      toast(tone, `${market} feed ${state}`, reason, { group: "feed" });
    }
  }

  private pushEvent(item: FeedItem): void {
    store.update((s) => ({ events: [item, ...s.events].slice(0, MAX_EVENTS) }));
  }

  /** Whether this event was handled already: ids are global, so the same id is the same event. */
  private seenBefore(id: number): boolean {
    if (this.seenEvents.has(id)) return true;
    this.seenEvents.add(id);
    if (this.seenEvents.size > SEEN_EVENTS) this.seenEvents.delete(this.seenEvents.values().next().value as number);
    return false;
  }

  private onEventFrame(frame: EventFrame): void {
    // risk.* comes on trade-execution, status and a bot's channel; orders.* on two of them.
    if (this.seenBefore(frame.id)) return;
    const { topic, data, ts } = frame;
    const base = { key: `${frame.id}`, id: frame.id, topic, ts };
    if (topic.startsWith("orders.")) {
      const order = data.order as OrderData | undefined;
      if (!order) return;
      store.update((s) => applyOrder(order, ts, s));
      const item = this.orderItem(order, topic, ts, frame.id);
      this.pushEvent(item);
      const status = topic.slice("orders.".length);
      if (status === "filled") {
        const [size, price] = fillParts(order);
        toast("good", `${botLabel(order.bot_id)}: ${order.side} ${order.product_id} filled`, `${size}${price}`.trim() + (order.reason ? ` — ${order.reason}` : ""), {
          group: `filled-${order.bot_id}`,
        });
      } else if (item.tone === "bad") {
        toast("bad", `${botLabel(order.bot_id)}: ${order.side} ${order.product_id} ${status}`, order.error || order.reason || "no reason given", {
          group: `refused-${order.bot_id}`,
        });
      }
      if (status === "filled" || item.tone === "bad") this.refreshBotsSoon();
      return;
    }
    if (topic === "trades.executed") {
      const trade = data.trade as Trade | undefined;
      // A trade is booked again as more fills come: the newer copy replaces the one shown.
      if (trade)
        store.update((s) => ({
          trades: [trade, ...s.trades.filter((t) => t.client_order_id !== trade.client_order_id)].slice(0, MAX_TRADES),
        }));
      return;
    }
    if (topic === "bots.signal") {
      const side = String(data.side ?? "");
      this.pushEvent({
        ...base,
        botId: Number(data.bot_id),
        productId: String(data.product_id ?? ""),
        text: `signal ${side} ${String(data.product_id ?? "")} @ ${formatPrice(Number(data.price))} — ${String(data.reason ?? "")}`,
        tone: side === "BUY" ? "buy" : "sell",
      });
      return;
    }
    if (topic.startsWith("bots.")) {
      this.refreshBotsSoon();
      if (topic === "bots.state" && data.state === "error") {
        toast("bad", `${botLabel(data.bot_id)} stopped with an error`, String(data.reason ?? ""));
      }
      if (topic === "bots.state") {
        this.pushEvent({
          ...base,
          botId: Number(data.bot_id),
          productId: null,
          text: `bot ${String(data.bot_id)} ${String(data.state)}${data.reason ? `: ${String(data.reason)}` : ""}`,
          tone: data.state === "error" || data.state === "halted" ? "bad" : "info",
        });
      }
      return;
    }
    if (topic.startsWith("risk.")) {
      void this.loadRisk();
      this.refreshBotsSoon();
      const who = data.bot_id ? botLabel(data.bot_id) : "account";
      if (topic === "risk.halted") toast("bad", `Trading halted (${who})`, String(data.reason ?? data.code ?? ""));
      if (topic === "risk.resumed") toast("good", `Trading resumed (${who})`, data.by ? `by ${String(data.by)}` : "");
      if (topic === "risk.kill_switch") {
        toast(data.on ? "bad" : "good", data.on ? `Kill switch ON (${who})` : `Kill switch off (${who})`, String(data.reason ?? ""));
      }
      this.pushEvent({
        ...base,
        botId: data.bot_id ? Number(data.bot_id) : null,
        productId: null,
        text: `${topic.slice(5).replace("_", " ")} (${who})${data.reason ? `: ${String(data.reason)}` : ""}`,
        tone: topic === "risk.resumed" || (topic === "risk.kill_switch" && !data.on) ? "good" : "bad",
      });
      return;
    }
    if (topic === "alerts.raised" || topic === "alerts.cleared") {
      const code = String(data.code ?? "");
      if (topic === "alerts.raised") {
        const alert = {
          code,
          severity: String(data.severity ?? "warning"),
          message: String(data.message ?? ""),
          since: Number(data.since ?? ts),
        };
        store.update((s) => ({ alerts: { ...s.alerts, [code]: alert } }));
        toast(alert.severity === "critical" ? "bad" : "warn", `Alert: ${code}`, alert.message, { group: `alert-${code}` });
      } else {
        store.update((s) => {
          const alerts = { ...s.alerts };
          delete alerts[code];
          return { alerts };
        });
      }
      return;
    }
    if (topic.startsWith("backtests.")) {
      const update = data as unknown as BacktestUpdate;
      publishBacktestUpdate(update);
      if (update.state === "done") toast("good", `Backtest #${update.backtest_id} done`, `${(update.ticks ?? 0).toLocaleString("en-US")} ticks`);
      if (update.state === "failed") toast("bad", `Backtest #${update.backtest_id} failed`, update.error ?? "");
      return;
    }
    if (topic === "optimizations.progress") {
      const update = data as unknown as OptimizationProgress;
      publishOptimizationProgress(update);
      const best = typeof update.best_value === "number" ? `best ${update.best_value.toPrecision(4)}` : "";
      if (update.status === "done") toast("good", `Optimization ${update.optimization_id} done`, `${update.trials} trials${best ? `, ${best}` : ""}`);
      if (update.status === "failed") toast("bad", `Optimization ${update.optimization_id} failed`, "");
      return;
    }
    if (topic === "feed.state") {
      this.setFeed(String(data.state ?? ""), String(data.reason ?? ""), typeof data.since === "number" ? data.since : null);
    }
  }
}

let current: Dashboard | null = null;

export function startDashboard(token: string): Dashboard {
  current?.stop();
  current = new Dashboard(token);
  current.start();
  return current;
}

export function dashboard(): Dashboard | null {
  return current;
}
