// The optimisation page's place in the navigation, until the optimiser's own page comes.
import { Panel } from "../ui/Panel";

export function OptimizePage() {
  return (
    <Panel title="Optimize" testId="optimize-panel">
      <p className="empty">No optimisation runs yet.</p>
      <p>Parameter searches over backtests will be listed here once the optimiser is in.</p>
    </Panel>
  );
}
