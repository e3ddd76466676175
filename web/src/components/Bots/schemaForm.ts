// Turn a strategy's parameter JSON schema (pydantic's) into form fields, and form values back
// into params. Only values the user set are sent; the server applies the strategy's defaults.
import type { JsonSchema } from "../../state/store";

export interface Field {
  name: string;
  label: string;
  description: string;
  kind: "number" | "integer" | "boolean" | "enum" | "text";
  options: string[];
  optional: boolean;
  defaultValue: unknown;
  /** The unit the value is in ("%", "bars", "s"), shown beside the label. */
  unit: string;
  min: number | null;
  max: number | null;
  /** Whether min / max themselves are refused (pydantic's gt / lt). */
  minExclusive: boolean;
  maxExclusive: boolean;
}

const WORDS: Record<string, string> = { pct: "", usd: "USD", rsi: "RSI", ema: "EMA", sma: "SMA", macd: "MACD", s: "" };

/** "take_profit_pct" → "Take profit", "rsi_period" → "RSI period". */
const LABELS: Record<string, string> = { order_pct: "Order size", budget_pct: "Order size" };

export function humanLabel(name: string): string {
  if (LABELS[name]) return LABELS[name];
  const words = name
    .split("_")
    .map((w) => WORDS[w] ?? w)
    .filter(Boolean);
  const text = words.join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The unit a parameter is in, from its name's suffix or its description ("…, in bars."). */
export function unitOf(name: string, description: string): string {
  if (name.endsWith("_pct")) return "%";
  if (name.endsWith("_s")) return "s";
  if (name.endsWith("_usd")) return "USD";
  const match = /\bin (bars|ticks|candles|seconds|minutes)\b/.exec(description);
  return match?.[1] ?? "";
}

/** A message without what people need not read: the field prefix the bot manager adds
 * ("params: …") and pydantic's error kind ("Value error, …"). */
function bare(message: string): string {
  return message
    .replace(/^[\w.]+: (?=Value error|Assertion failed)/, "")
    .replace(/^(Value error|Assertion failed), /, "")
    .trim();
}

/** A server or schema message as a sentence about the field: "Fast must be at least 2." */
export function sentence(label: string, message: string): string {
  let m = bare(message);
  const rules: [RegExp, string][] = [
    [/^Input should be greater than or equal to (.+)$/, "must be at least $1"],
    [/^Input should be greater than (.+)$/, "must be more than $1"],
    [/^Input should be less than or equal to (.+)$/, "must be at most $1"],
    [/^Input should be less than (.+)$/, "must be less than $1"],
    [/^Input should be a valid integer.*$/, "must be a whole number"],
    [/^Input should be a valid (number|decimal).*$/, "must be a number"],
    [/^Input should be a valid boolean.*$/, "must be on or off"],
    [/^Extra inputs are not permitted$/, "is not a setting of this strategy"],
    [/^Field required$/, "is required"],
    [/^Input should be (.+)$/, "must be $1"],
  ];
  for (const [pattern, replacement] of rules) {
    if (pattern.test(m)) {
      m = `${label} ${m.replace(pattern, replacement)}`;
      break;
    }
  }
  m = m.charAt(0).toUpperCase() + m.slice(1);
  return /[.!?]$/.test(m) ? m : `${m}.`;
}

/** Which field a server error belongs to: its loc, else the first field its message names
 * ("fast must be shorter than slow" is about fast), else the form as a whole (""). */
export function fieldOfError(loc: string[], message: string, fields: Field[]): string {
  const path = loc.filter((p) => p !== "body");
  if (path[0] === "params" && path[1]) return `params.${path[1]}`;
  if (path[0] === "params") {
    const text = bare(message);
    const named = fields
      .map((f) => ({ f, at: text.search(new RegExp(`\\b${f.name}\\b`)) }))
      .filter((x) => x.at >= 0)
      .sort((a, b) => a.at - b.at)[0];
    return named ? `params.${named.f.name}` : "params";
  }
  return path[0] ?? "";
}

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (schema.$ref?.startsWith("#/$defs/")) {
    const target = root.$defs?.[schema.$ref.slice("#/$defs/".length)];
    if (target) return { ...target, ...schema, $ref: undefined } as JsonSchema;
  }
  return schema;
}

export function fieldsOf(root: JsonSchema): Field[] {
  return Object.entries(root.properties ?? {}).map(([name, raw]) => {
    let schema = resolve(raw, root);
    let optional = !(root.required ?? []).includes(name);
    if (schema.anyOf) {
      const concrete = schema.anyOf.map((s) => resolve(s, root)).filter((s) => s.type !== "null");
      if (concrete.length < schema.anyOf.length) optional = true;
      if (concrete[0]) schema = { ...concrete[0], description: schema.description ?? concrete[0].description, default: schema.default };
    }
    const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
    const kind: Field["kind"] = schema.enum
      ? "enum"
      : type === "boolean"
        ? "boolean"
        : type === "integer"
          ? "integer"
          : type === "number"
            ? "number"
            : "text";
    const description = raw.description ?? schema.description ?? "";
    const min = schema.exclusiveMinimum ?? schema.minimum ?? null;
    const max = schema.exclusiveMaximum ?? schema.maximum ?? null;
    return {
      name,
      // pydantic's default title is the name capitalised ("Order Pct"): ours reads better.
      label: humanLabel(name),
      description,
      kind,
      options: (schema.enum ?? []).map(String),
      optional,
      defaultValue: raw.default ?? schema.default,
      unit: unitOf(name, description),
      min,
      max,
      minExclusive: schema.exclusiveMinimum !== undefined,
      maxExclusive: schema.exclusiveMaximum !== undefined,
    };
  });
}

/** Form strings to params: empty means "use the default"; numbers must parse. */
export function paramsFrom(fields: Field[], values: Record<string, string | boolean>): { params: Record<string, unknown>; errors: Record<string, string> } {
  const params: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const value = values[field.name];
    if (value === undefined || value === "") continue;
    if (field.kind === "boolean") {
      if (value !== field.defaultValue) params[field.name] = value;
      continue;
    }
    if (field.kind === "number" || field.kind === "integer") {
      const n = Number(value);
      if (!Number.isFinite(n) || (field.kind === "integer" && !Number.isInteger(n))) {
        errors[field.name] = `${field.label} must be ${field.kind === "integer" ? "a whole number" : "a number"}.`;
        continue;
      }
      const unit = field.unit === "%" ? "%" : field.unit ? ` ${field.unit}` : "";
      if (field.min !== null && (field.minExclusive ? n <= field.min : n < field.min)) {
        errors[field.name] = `${field.label} must be ${field.minExclusive ? "more than" : "at least"} ${field.min}${unit}.`;
        continue;
      }
      if (field.max !== null && (field.maxExclusive ? n >= field.max : n > field.max)) {
        errors[field.name] = `${field.label} must be ${field.maxExclusive ? "less than" : "at most"} ${field.max}${unit}.`;
        continue;
      }
      params[field.name] = n;
      continue;
    }
    params[field.name] = value;
  }
  return { params, errors };
}

/** The form's starting values: a bot's current params, else empty (placeholders show defaults). */
export function valuesFrom(fields: Field[], params: Record<string, unknown>): Record<string, string | boolean> {
  const values: Record<string, string | boolean> = {};
  for (const field of fields) {
    const v = params[field.name];
    if (field.kind === "boolean") values[field.name] = Boolean(v ?? field.defaultValue ?? false);
    else values[field.name] = v === undefined || v === null ? "" : String(v);
  }
  return values;
}
