/** Nested JSON to "a.b" → scalar rows, for panels whose server shape may grow. */
export function flatten(value: unknown, prefix = "", out: [string, string | number | boolean | null][] = []) {
  if (value === null || typeof value !== "object") {
    out.push([prefix, value as string | number | boolean | null]);
    return out;
  }
  if (Array.isArray(value)) {
    out.push([prefix, value.length ? value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(", ") : "none"]);
    return out;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

export function humanize(key: string): string {
  return key.replace(/_/g, " ").replace(/\./g, " · ");
}

export function show(value: string | number | boolean | null): string {
  if (value === null) return "—";
  if (typeof value === "number") return Number.isInteger(value) ? value.toLocaleString("en-US") : value.toLocaleString("en-US", { maximumFractionDigits: 3 });
  return String(value);
}
