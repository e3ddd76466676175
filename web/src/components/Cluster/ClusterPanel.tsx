// The cluster's workers (GET /api/v1/cluster): alive, bots owned, ticks/s and p99. Shown only when
// the API serves a cluster (`streambot api`); `streambot run` has no workers to list.
import { useEffect, useState } from "react";
import { api, type Schemas } from "../../api/client";
import { formatUs } from "../../state/format";
import { useDashboard } from "../../state/store";
import { Panel } from "../ui/Panel";

type Cluster = Schemas["ClusterOut"];

const REFRESH_MS = 3000;

export function ClusterPanel() {
  const [cluster, setCluster] = useState<Cluster | null>(null);
  // Only once signed in: a request before the client has its token answers 401, which signs the
  // user out (the same wait as the Backtests and Optimize pages).
  const signedIn = useDashboard((s) => s.signedIn);
  useEffect(() => {
    if (!signedIn) return;
    let stopped = false;
    const load = async () => {
      try {
        const body = await api.get("/api/v1/cluster");
        if (body.role !== "api") clearInterval(timer); // one process: nothing to follow
        if (!stopped) setCluster(body);
      } catch {
        // The panel is a view of the heartbeats: a failed read waits for the next one.
      }
    };
    const timer = setInterval(() => void load(), REFRESH_MS);
    void load();
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [signedIn]);
  if (cluster === null || cluster.role !== "api") return null;
  return (
    <Panel title="Cluster" testId="cluster-panel">
      <table className="cluster-workers">
        <thead>
          <tr>
            <th>worker</th>
            <th>host · pid</th>
            <th>bots</th>
            <th>ticks/s</th>
            <th>p99</th>
          </tr>
        </thead>
        <tbody>
          {cluster.workers.map((w) => (
            <tr key={w.id} className={w.alive ? "" : "dead"} title={`last seen ${w.last_seen}`}>
              <td>
                {w.alive ? "🟢" : "⚫"} {w.id}
              </td>
              <td>
                {w.host} · {w.pid}
              </td>
              <td>{w.bots.length}</td>
              <td>{w.ticks_per_s.toFixed(1)}</td>
              <td>{formatUs(w.p99_us)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}
