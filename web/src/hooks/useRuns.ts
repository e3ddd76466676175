// What the Backtests and Optimize pages share: the list of runs, loaded once signed in and polled
// while one is active; and the "start a run" form's submit (busy while the POST is under way, the
// server's sentence shown when it refuses).
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { ApiError, describeDetail } from "../api/client";
import { useDashboard } from "../state/store";

export function errorText(e: unknown): string {
  return e instanceof ApiError ? describeDetail(e.detail) : (e as Error).message;
}

export function useRunList<T>(fetchRuns: () => Promise<T[]>, active: (run: T) => boolean) {
  const signedIn = useDashboard((s) => s.signedIn);
  const [runs, setRuns] = useState<T[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setRuns(await fetchRuns());
      setError(null);
    } catch (e) {
      setError(errorText(e));
    }
  }, [fetchRuns]);

  // Only once signed in: a page opened by reloading its address mounts before the App's effect
  // hands the client its token, and a request without one would sign the user out.
  useEffect(() => {
    if (signedIn) void load();
  }, [signedIn, load]);

  // Without the status socket, a slow poll keeps active runs moving.
  const anyActive = runs?.some(active) ?? false;
  useEffect(() => {
    if (!anyActive) return;
    const timer = setInterval(() => void load(), 5000);
    return () => clearInterval(timer);
  }, [anyActive, load]);

  return { runs, setRuns, error, setError, load };
}

/** A start form's submit: ``start`` builds the body (it may throw a sentence) and posts it. */
export function useStartForm<T>(start: () => Promise<T>, onStarted: (run: T) => void) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(): Promise<void> {
    setError(null);
    setBusy(true);
    try {
      onStarted(await start());
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  function onSubmit(e: FormEvent): void {
    e.preventDefault();
    void submit();
  }

  return { error, busy, onSubmit };
}
