import { useNow } from "../../hooks/useNow";
import { useStatus } from "../../hooks/useStatus";
import { formatPct, formatPrice } from "../../state/format";
import { useDashboard } from "../../state/store";
import { Empty } from "../ui/Panel";
import { Sparkline } from "./Sparkline";

export function MarketTiles(props: { selected: string | null; onSelect: (productId: string) => void }) {
  const products = useDashboard((s) => s.products);
  const tickers = useDashboard((s) => s.tickers);
  const history = useDashboard((s) => s.history);
  const now = useNow(1000);
  const status = useStatus();
  if (products.length === 0) {
    return <Empty>No prices yet: waiting for the first ticker from the market-data feed.</Empty>;
  }
  return (
    <div className="tiles" data-testid="market-tiles">
      {products.map((productId) => {
        const t = tickers[productId];
        if (!t) return null;
        const change = t.price_change_pct_24h;
        const tickDir = t.previous === null ? "" : t.price > t.previous ? "tick-up" : t.price < t.previous ? "tick-down" : "";
        // Grey when this price is old, or when the dashboard cannot know whether it still is.
        const stale = status.api === "lost" || now - t.receivedAt / 1000 > 10;
        return (
          <button
            type="button"
            key={productId}
            className={`tile ${props.selected === productId ? "selected" : ""} ${stale ? "stale" : ""}`}
            data-testid={`tile-${productId}`}
            onClick={() => props.onSelect(productId)}
          >
            <div className="tile-head">
              <span className="tile-product">{productId}</span>
              <span className={change >= 0 ? "up" : "down"}>{formatPct(change)}</span>
            </div>
            <div className={`tile-price ${tickDir}`} data-testid="price">
              {formatPrice(t.price)}
            </div>
            <Sparkline values={history[productId] ?? []} up={change >= 0} />
            <div className="tile-foot">
              <span>bid {formatPrice(t.best_bid)}</span>
              <span>ask {formatPrice(t.best_ask)}</span>
              {stale && <span className="warn-text">stale</span>}
            </div>
          </button>
        );
      })}
    </div>
  );
}
