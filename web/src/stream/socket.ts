// One dashboard WebSocket: authenticates with a first message (the token never goes in the URL),
// reconnects with jittered exponential backoff, and resumes from the last event id it saw.
import { type Frame, parseFrame } from "./frames";

export type SocketState = "connecting" | "live" | "reconnecting" | "unauthorized" | "forbidden" | "not_found" | "closed";

export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 15_000, factor: 2 };

/** Delay before reconnect attempt `attempt` (0-based): exponential, capped, half of it jittered. */
export function backoffDelay(attempt: number, backoff: Backoff = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** attempt);
  // Equal jitter: never less than half the ceiling, so a flapping server is not hammered, but
  // clients that dropped together do not all come back in the same millisecond.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const browserTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface StreamOptions {
  url: string;
  token: string;
  onFrame: (frame: Frame) => void;
  onState?: (state: SocketState, detail: string) => void;
  /** The server no longer holds the events after our last id: refetch state over REST. */
  onReset?: () => void;
  connect?: (url: string) => SocketLike;
  timers?: Timers;
  random?: () => number;
  backoff?: Backoff;
  /** Without any frame for this long (the server pings every 15 s) the socket is presumed dead. */
  silenceMs?: number;
}

// Close codes from docs/contracts.md.
const UNAUTHORIZED = 4401;
const FORBIDDEN_ORIGIN = 4403;
const NOT_FOUND = 4404;
const TOO_SLOW = 4408;

export class EventStream {
  state: SocketState = "connecting";
  lastEventId: number | null = null;
  attempt = 0;
  private socket: SocketLike | null = null;
  private retryTimer: unknown = null;
  private silenceTimer: unknown = null;
  private stopped = false;
  private readonly timers: Timers;

  constructor(private readonly options: StreamOptions) {
    this.timers = options.timers ?? browserTimers;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.timers.clear(this.retryTimer);
    this.timers.clear(this.silenceTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close(1000, "dashboard closed");
    }
    this.setState("closed", "stopped");
  }

  private setState(state: SocketState, detail: string): void {
    if (state === this.state && state !== "reconnecting") return;
    this.state = state;
    this.options.onState?.(state, detail);
  }

  private open(): void {
    const connect = this.options.connect ?? ((url: string) => new WebSocket(url) as unknown as SocketLike);
    let socket: SocketLike;
    try {
      socket = connect(this.options.url);
    } catch (error) {
      this.scheduleReconnect(`cannot open: ${String(error)}`);
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "auth", token: this.options.token, last_event_id: this.lastEventId }));
      this.armSilence();
    };
    socket.onmessage = (ev) => {
      if (typeof ev.data !== "string") return;
      this.armSilence();
      const frame = parseFrame(ev.data);
      if (frame) this.handle(frame);
    };
    socket.onerror = () => {
      // onclose follows with the code; that is where we decide what to do.
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.timers.clear(this.silenceTimer);
      if (this.stopped) return;
      if (ev.code === UNAUTHORIZED) {
        this.setState("unauthorized", "the server did not accept the token");
        return;
      }
      if (ev.code === FORBIDDEN_ORIGIN) {
        this.setState("forbidden", "this page's origin is not allowed (STREAMBOT_CORS_ORIGINS)");
        return;
      }
      if (ev.code === NOT_FOUND) {
        // A bot's channel whose bot was deleted: asking again cannot help.
        this.setState("not_found", ev.reason || "no such bot");
        return;
      }
      if (ev.code === TOO_SLOW) {
        // Fell behind: come straight back and resume; the server kept our events.
        this.attempt = 0;
      }
      this.scheduleReconnect(ev.reason || `closed (${ev.code})`);
    };
  }

  private handle(frame: Frame): void {
    switch (frame.type) {
      case "hello":
        this.attempt = 0;
        // First connection: remember where the stream stood so a reconnect resumes from here.
        if (this.lastEventId === null) this.lastEventId = frame.last_event_id;
        this.setState("live", `channel ${frame.channel}`);
        break;
      case "reset":
        this.options.onReset?.();
        break;
      case "event":
        if (this.lastEventId !== null && frame.id <= this.lastEventId) return; // replayed twice
        this.lastEventId = frame.id;
        break;
      default:
        break;
    }
    this.options.onFrame(frame);
  }

  private armSilence(): void {
    const silenceMs = this.options.silenceMs ?? 40_000;
    this.timers.clear(this.silenceTimer);
    this.silenceTimer = this.timers.set(() => {
      const socket = this.socket;
      if (socket) {
        socket.onclose = null;
        socket.close(4000, "silent");
        this.socket = null;
        this.scheduleReconnect("no frames from the server");
      }
    }, silenceMs);
  }

  private scheduleReconnect(detail: string): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt, this.options.backoff, this.options.random);
    this.attempt += 1;
    this.setState("reconnecting", `${detail}; retrying in ${(delay / 1000).toFixed(1)} s`);
    this.timers.clear(this.retryTimer);
    this.retryTimer = this.timers.set(() => this.open(), delay);
  }
}

/** ws:// or wss:// URL of a dashboard channel on this page's origin. */
export function channelUrl(path: string, query: Record<string, string | number> = {}): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const search = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  return `${scheme}//${location.host}/api/v1/ws/${path}${search ? `?${search}` : ""}`;
}
