import { useEffect, useState } from "react";
import { forgetToken, saveToken, takeTokenFromUrl } from "../../api/token";
import { useRoute } from "../../hooks/useRoute";
import { startDashboard } from "../../state/controller";
import { formatMoney } from "../../state/format";
import { useDashboard } from "../../state/store";
import { BacktestsPage } from "../Backtests/BacktestsPage";
import { BotPage } from "../Bots/BotPage";
import { BotsTable } from "../Bots/BotsTable";
import { ClusterPanel } from "../Cluster/ClusterPanel";
import { MetricsPanel } from "../Health/MetricsPanel";
import { CandleChart } from "../Market/CandleChart";
import { MarketTiles } from "../Market/MarketTiles";
import { RiskPanel } from "../Risk/RiskPanel";
import { TradeExecutionFeed } from "../Trading/TradeExecutionFeed";
import { TradeProgressIndicator } from "../Trading/TradeProgressIndicator";
import { Panel } from "../ui/Panel";
import { LogsPage } from "../Logs/LogsPage";
import { OptimizePage } from "../Optimize/OptimizePage";
import { PortfolioPage } from "../Portfolio/PortfolioPage";
import { NotificationCentre, Toasts } from "../ui/Notifications";
import { useStatus } from "../../hooks/useStatus";
import { ConnectionBadges } from "./ConnectionBadges";
import { SignIn } from "./SignIn";

/** The account at a glance on the trading view (on a phone the risk panel is screens down). */
function EquityStrip() {
  const risk = useDashboard((s) => s.risk);
  const bots = useDashboard((s) => s.bots);
  const pnl = (bots ?? []).reduce((sum, b) => sum + Number(b.position.realized_pnl) + Number(b.unrealized_pnl), 0);
  const open = (bots ?? []).filter((b) => b.break_even_price !== null && b.break_even_price !== undefined).length;
  return (
    <a href="#/portfolio" className="equity-strip" data-testid="equity-strip">
      <span>
        Equity <strong>{formatMoney(risk?.equity)}</strong>
      </span>
      <span>
        P&amp;L <strong className={pnl > 0 ? "up" : pnl < 0 ? "down" : ""}>{formatMoney(pnl)}</strong>
      </span>
      <span>
        Open positions <strong>{open}</strong>
      </span>
      <span className="muted">Portfolio →</span>
    </a>
  );
}

function Home() {
  const products = useDashboard((s) => s.products);
  const [selected, setSelected] = useState<string | null>(null);
  const product = selected ?? products[0] ?? null;
  return (
    <>
      <EquityStrip />
      <MarketTiles selected={product} onSelect={setSelected} />
      <div className="grid-main">
        <Panel title="Chart" className="chart-panel">
          <CandleChart productId={product} />
        </Panel>
        <div className="side">
          <RiskPanel />
          <MetricsPanel />
          <ClusterPanel />
        </div>
      </div>
      <BotsTable />
      <div className="grid-2">
        <TradeProgressIndicator />
        <TradeExecutionFeed />
      </div>
    </>
  );
}

const NAV = [
  ["home", "#/", "Trading"],
  ["portfolio", "#/portfolio", "Portfolio"],
  ["backtests", "#/backtests", "Backtests"],
  ["optimize", "#/optimize", "Optimize"],
  ["logs", "#/logs", "Logs"],
] as const;

function Nav({ current }: { current: string }) {
  return (
    <nav className="nav" aria-label="Pages" data-testid="nav">
      {NAV.map(([page, href, label]) => (
        <a key={page} href={href} className={current === page ? "active" : ""} aria-current={current === page ? "page" : undefined}>
          {label}
        </a>
      ))}
    </nav>
  );
}

export function App() {
  const [token, setToken] = useState<string | null>(() => takeTokenFromUrl());
  const [attempt, setAttempt] = useState(0);
  const signedIn = useDashboard((s) => s.signedIn);
  const authError = useDashboard((s) => s.authError);
  const route = useRoute();
  const halted = useDashboard((s) => Boolean(s.risk?.account.halted || s.risk?.account.kill_switch));
  const status = useStatus();

  useEffect(() => {
    if (!token) return;
    const d = startDashboard(token);
    return () => d.stop();
  }, [token, attempt]);

  if (!token || (!signedIn && authError)) {
    return (
      <SignIn
        error={authError}
        onToken={(t) => {
          saveToken(t);
          setToken(t);
          setAttempt((n) => n + 1);
        }}
      />
    );
  }
  return (
    <div className={`app ${halted ? "app-halted" : ""} ${status.api === "lost" ? "app-lost" : ""}`} data-testid="app" data-api={status.api}>
      <header className="top">
        <a href="#/" className="brand">
          streambot
        </a>
        <ConnectionBadges />
        <Toasts />
        <NotificationCentre />
        <button
          type="button"
          className="link"
          onClick={() => {
            forgetToken();
            setToken(null);
          }}
        >
          Sign out
        </button>
      </header>
      <Nav current={route.page} />
      <main>
        {route.page === "bot" ? (
          <BotPage botId={route.botId} />
        ) : route.page === "portfolio" ? (
          <PortfolioPage />
        ) : route.page === "backtests" ? (
          <BacktestsPage />
        ) : route.page === "optimize" ? (
          <OptimizePage />
        ) : route.page === "logs" ? (
          <LogsPage />
        ) : (
          <Home />
        )}
      </main>
    </div>
  );
}
