// Places in the navigation for the backtest and optimisation pages, which come with their issues.
import { Panel } from "../ui/Panel";

export function BacktestsPage() {
  return (
    <Panel title="Backtests" testId="backtests-panel">
      <p className="empty">No backtests yet.</p>
      <p>
        Run one from the command line, for example <code>streambot backtest --help</code>; its results will be listed here.
      </p>
    </Panel>
  );
}

export function OptimizePage() {
  return (
    <Panel title="Optimize" testId="optimize-panel">
      <p className="empty">No optimisation runs yet.</p>
      <p>Parameter searches over backtests will be listed here once the optimiser is in.</p>
    </Panel>
  );
}
