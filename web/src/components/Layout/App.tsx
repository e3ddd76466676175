import { useEffect, useState } from "react";
import { forgetToken, saveToken, takeTokenFromUrl } from "../../api/token";
import { useRoute } from "../../hooks/useRoute";
import { startDashboard } from "../../state/controller";
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
import { Toasts } from "../ui/Toasts";
import { ConnectionBadges } from "./ConnectionBadges";
import { SignIn } from "./SignIn";

function Home() {
  const products = useDashboard((s) => s.products);
  const [selected, setSelected] = useState<string | null>(null);
  const product = selected ?? products[0] ?? null;
  return (
    <>
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

export function App() {
  const [token, setToken] = useState<string | null>(() => takeTokenFromUrl());
  const [attempt, setAttempt] = useState(0);
  const signedIn = useDashboard((s) => s.signedIn);
  const authError = useDashboard((s) => s.authError);
  const route = useRoute();
  const halted = useDashboard((s) => Boolean(s.risk?.account.halted || s.risk?.account.kill_switch));

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
    <div className={`app ${halted ? "app-halted" : ""}`}>
      <header className="top">
        <a href="#/" className="brand">
          streambot
        </a>
        <ConnectionBadges />
        <a href="#/backtests" className={route.page === "backtests" ? "nav-active" : ""}>
          Backtests
        </a>
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
      <main>
        {route.page === "bot" ? (
          <BotPage botId={route.botId} />
        ) : route.page === "backtests" ? (
          <BacktestsPage botId={route.botId} />
        ) : (
          <Home />
        )}
      </main>
      <Toasts />
    </div>
  );
}
