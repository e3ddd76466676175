// Order lifecycle, signals and risk events as they happen, newest first.
import { formatTime } from "../../state/format";
import { useDashboard } from "../../state/store";
import { Empty, Panel } from "../ui/Panel";

export function TradeExecutionFeed({ botId, limit = 60 }: { botId?: number; limit?: number }) {
  const events = useDashboard((s) => s.events);
  const socket = useDashboard((s) => s.sockets["trade-execution"]);
  const shown = (botId === undefined ? events : events.filter((e) => e.botId === botId)).slice(0, limit);
  return (
    <Panel title="Trade execution feed" testId="execution-feed">
      {shown.length === 0 ? (
        <Empty>
          {socket.state === "live"
            ? "Listening. Signals, orders and fills appear here the moment they happen."
            : "Live events need the dashboard socket (/api/v1/ws/trade-execution); it is " + socket.state + ". Orders are polled meanwhile."}
        </Empty>
      ) : (
        <ul className="feed">
          {shown.map((e) => (
            <li key={e.key} className={`feed-item tone-${e.tone}`}>
              <time>{formatTime(e.ts)}</time>
              <code>{e.topic}</code>
              <span>{e.text}</span>
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}
