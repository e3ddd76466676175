import { useEffect, useState } from "react";

/** The current time in unix seconds, refreshed every `ms` (for "3 s ago" labels and staleness). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const handle = setInterval(() => setNow(Date.now() / 1000), ms);
    return () => clearInterval(handle);
  }, [ms]);
  return now;
}
