import { describe, expect, it } from "vitest";
import type { Frame } from "./frames";
import { backoffDelay, EventStream, type SocketLike, type Timers } from "./socket";

class FakeSocket implements SocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  sent: unknown[] = [];
  closed = false;
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.closed = true;
  }
  receive(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006, reason = ""): void {
    this.onclose?.({ code, reason });
  }
}

/** Timers run by hand: `advance` fires what is due, in order. */
class ManualTimers implements Timers {
  private clock = 0;
  private next = 1;
  private pending = new Map<number, { at: number; fn: () => void }>();
  set(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { at: this.clock + ms, fn });
    return id;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  delays(): number[] {
    return [...this.pending.values()].map((t) => t.at - this.clock);
  }
  advance(ms: number): void {
    const until = this.clock + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.clock = due[1].at;
      due[1].fn();
    }
    this.clock = until;
  }
}

function setup() {
  const sockets: FakeSocket[] = [];
  const frames: Frame[] = [];
  const states: string[] = [];
  let resets = 0;
  const timers = new ManualTimers();
  const stream = new EventStream({
    url: "ws://test/api/v1/ws/trade-execution",
    token: "secret",
    onFrame: (f) => frames.push(f),
    onState: (s) => states.push(s),
    onReset: () => resets++,
    connect: () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket;
    },
    timers,
    random: () => 0.5,
    silenceMs: 40_000,
  });
  stream.start();
  const current = () => sockets[sockets.length - 1] as FakeSocket;
  return { stream, sockets, frames, states, timers, current, resets: () => resets };
}

describe("backoffDelay", () => {
  it("grows exponentially, is capped, and keeps at least half of the ceiling", () => {
    const b = { initialMs: 500, maxMs: 8000, factor: 2 };
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, b, () => 1))).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    expect(backoffDelay(3, b, () => 0)).toBe(2000);
  });
});

describe("EventStream", () => {
  it("authenticates with a first message, never in the URL", () => {
    const { current } = setup();
    current().onopen?.({});
    expect(current().sent[0]).toEqual({ type: "auth", token: "secret", last_event_id: null });
  });

  it("resumes from the last event id after a drop, with backoff", () => {
    const { current, sockets, timers, states, frames } = setup();
    current().onopen?.({});
    current().receive({ type: "hello", channel: "trade-execution", server_time: 1, last_event_id: 40 });
    current().receive({ type: "event", id: 41, topic: "orders.filled", ts: 1, data: {} });
    current().receive({ type: "event", id: 42, topic: "orders.filled", ts: 1, data: {} });
    current().drop();
    expect(states.at(-1)).toBe("reconnecting");
    expect(timers.delays()).toEqual([375]); // attempt 0: half of 500 plus half of the jitter
    timers.advance(375);
    expect(sockets).toHaveLength(2);
    current().onopen?.({});
    expect(current().sent[0]).toEqual({ type: "auth", token: "secret", last_event_id: 42 });
    // A replayed event we already have is not delivered twice.
    current().receive({ type: "hello", channel: "trade-execution", server_time: 2, last_event_id: 43 });
    current().receive({ type: "event", id: 42, topic: "orders.filled", ts: 1, data: {} });
    current().receive({ type: "event", id: 43, topic: "orders.filled", ts: 1, data: {} });
    const ids = frames.filter((f) => f.type === "event").map((f) => (f.type === "event" ? f.id : 0));
    expect(ids).toEqual([41, 42, 43]);
    expect(states.at(-1)).toBe("live");
  });

  it("backs off further on each failed attempt and starts over once connected", () => {
    const { current, timers } = setup();
    current().drop();
    expect(timers.delays()).toEqual([375]);
    timers.advance(375);
    current().drop();
    expect(timers.delays()).toEqual([750]);
    timers.advance(750);
    current().drop();
    expect(timers.delays()).toEqual([1500]);
    timers.advance(1500);
    current().onopen?.({});
    current().receive({ type: "hello", channel: "x", server_time: 1, last_event_id: 0 });
    current().drop();
    expect(timers.delays()).toEqual([375]);
  });

  it("remembers the stream position from hello so the first reconnect resumes", () => {
    const { current, timers } = setup();
    current().onopen?.({});
    current().receive({ type: "hello", channel: "x", server_time: 1, last_event_id: 7 });
    current().drop();
    timers.advance(10_000);
    current().onopen?.({});
    expect(current().sent[0]).toMatchObject({ last_event_id: 7 });
  });

  it("asks for a REST refetch on reset", () => {
    const { current, resets } = setup();
    current().receive({ type: "reset" });
    expect(resets()).toBe(1);
  });

  it("stops retrying on a rejected token", () => {
    const { current, timers, states, sockets } = setup();
    current().drop(4401, "unauthorized");
    expect(states.at(-1)).toBe("unauthorized");
    timers.advance(60_000);
    expect(sockets).toHaveLength(1);
  });

  it("stops retrying once the server says the bot does not exist", () => {
    const { current, timers, states, sockets } = setup();
    current().drop(4404, "no bot 9");
    expect(states.at(-1)).toBe("not_found");
    timers.advance(60_000);
    expect(sockets).toHaveLength(1);
  });

  it("treats a silent socket as dead and reconnects", () => {
    const { current, timers, sockets } = setup();
    current().onopen?.({});
    timers.advance(40_000);
    expect(sockets[0]?.closed).toBe(true);
    timers.advance(1_000);
    expect(sockets).toHaveLength(2);
  });
});
