// Parameter searches' live progress (optimizations.progress events of the status socket): the
// controller hands each event here, the Optimize page listens while it is open.
export type OptimizationStatus = "running" | "done" | "failed" | "interrupted";

export interface OptimizationProgress {
  optimization_id: string;
  status: OptimizationStatus;
  trials: number;
  trials_target: number;
  best_value?: number | null;
}

type Listener = (update: OptimizationProgress) => void;
const listeners = new Set<Listener>();

export function onOptimizationProgress(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function publishOptimizationProgress(update: OptimizationProgress): void {
  for (const listener of listeners) listener(update);
}
