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
    return {
      name,
      label: raw.title ?? schema.title ?? name,
      description: raw.description ?? schema.description ?? "",
      kind,
      options: (schema.enum ?? []).map(String),
      optional,
      defaultValue: raw.default ?? schema.default,
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
        errors[field.name] = field.kind === "integer" ? "a whole number" : "a number";
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
