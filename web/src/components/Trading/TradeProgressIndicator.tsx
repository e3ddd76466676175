// Each order's way through the pipeline, with the milliseconds every step took.
import { formatMs, formatPrice, formatSize } from "../../state/format";
import { type OrderView, useDashboard } from "../../state/store";
import { Empty, Panel } from "../ui/Panel";
import { isFailed, stepsOf, totalMs } from "./progress";

export function OrderProgress({ view }: { view: OrderView }) {
  const order = view.order;
  const steps = stepsOf(order);
  const total = totalMs(order);
  const bad = isFailed(order.status);
  return (
    <li className="order-progress" data-testid="order-progress" data-status={order.status} data-bot-id={order.bot_id}>
      <div className="order-head">
        <span className={order.side === "BUY" ? "up" : "down"}>{order.side}</span>
        <span>{order.product_id}</span>
        <small className="muted">bot #{order.bot_id}</small>
        {order.filled_size && Number(order.filled_size) > 0 && (
          <small>
            {formatSize(order.filled_size)} @ {formatPrice(order.average_price)}
          </small>
        )}
        <span className={`status status-${bad ? "bad" : order.status === "filled" ? "good" : "info"}`} data-testid="order-status">
          {order.status}
        </span>
        {total !== null && <small className="muted">{formatMs(total)} total</small>}
      </div>
      <ol className="steps">
        {steps.map((step) => (
          <li key={step.key} className={`step step-${step.state}`} data-step={step.key} data-state={step.state}>
            <span className="dot" />
            <span className="step-label">{step.label}</span>
            <small>{step.ms !== null ? formatMs(step.ms) : step.state === "failed" ? order.status : ""}</small>
          </li>
        ))}
      </ol>
      {bad && (order.error || order.reason) && <p className="order-error">{order.error || order.reason}</p>}
    </li>
  );
}

export function TradeProgressIndicator({ botId, limit = 8 }: { botId?: number; limit?: number }) {
  const orders = useDashboard((s) => s.orders);
  const ids = useDashboard((s) => s.orderIds);
  const shown = ids
    .map((id) => orders[id])
    .filter((v): v is OrderView => !!v && (botId === undefined || v.order.bot_id === botId))
    .slice(0, limit);
  return (
    <Panel title="Order progress" testId="trade-progress">
      {shown.length === 0 ? (
        <Empty>
          No orders yet. Orders appear here step by step as a running bot acts.
        </Empty>
      ) : (
        <ul className="orders">
          {shown.map((view) => (
            <OrderProgress key={view.order.client_order_id} view={view} />
          ))}
        </ul>
      )}
    </Panel>
  );
}
