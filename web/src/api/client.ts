// Typed REST client over the generated OpenAPI types (npm run api regenerates schema.d.ts).
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type BotStatus = Schemas["BotStatusOut"];
export type Bot = Schemas["BotOut"];
export type Trade = Schemas["TradeWithLifecycle"];

type Method = "get" | "post" | "patch" | "delete";
type PathsWith<M extends Method> = {
  [P in keyof paths]: paths[P] extends Record<M, { responses: unknown }> ? P : never;
}[keyof paths];
type Op<P extends keyof paths, M extends Method> = paths[P] extends Record<M, infer O> ? O : never;
type JsonBody<R> = R extends { content: { "application/json": infer T } } ? T : undefined;
type Success<O> = O extends { responses: infer R }
  ? 200 extends keyof R
    ? JsonBody<R[200]>
    : 201 extends keyof R
      ? JsonBody<R[201]>
      : 202 extends keyof R
        ? JsonBody<R[202]>
        : undefined
  : never;
type RequestBody<O> = O extends { requestBody: { content: { "application/json": infer B } } } ? B : never;
type PathParams<O> = O extends { parameters: { path: infer P } } ? P : never;
type QueryParams<O> = O extends { parameters: { query?: infer Q } } ? Q : never;

export interface CallOptions<O> {
  path?: PathParams<O>;
  query?: QueryParams<O>;
  body?: RequestBody<O>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly detail: unknown,
  ) {
    super(message);
  }
}

/** FastAPI's error detail as one sentence: a string, or validation errors joined with their field. */
export function describeDetail(detail: unknown): string {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d: { loc?: unknown[]; msg?: string }) => {
        const loc = (d.loc ?? []).filter((p) => p !== "body").join(".");
        return loc ? `${loc}: ${d.msg ?? ""}` : (d.msg ?? "");
      })
      .join("; ");
  }
  return detail === undefined ? "" : JSON.stringify(detail);
}

let token: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function configureClient(value: string | null, unauthorized: () => void): void {
  token = value;
  onUnauthorized = unauthorized;
}

function fill(template: string, params: Record<string, unknown> | undefined): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => encodeURIComponent(String(params?.[key] ?? "")));
}

async function request(method: string, url: string, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method: method.toUpperCase(),
    headers,
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (response.status === 204) return undefined;
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  if (!response.ok) {
    const detail = (json as { detail?: unknown } | undefined)?.detail ?? json;
    if (response.status === 401) onUnauthorized?.();
    throw new ApiError(response.status, `${method.toUpperCase()} ${url}: ${response.status} ${describeDetail(detail)}`, detail);
  }
  return json;
}

/** A file the API serves behind the token (a backtest's report or chart): a plain link or <img>
 * could not send the Authorization header. */
export async function fetchFile(url: string): Promise<Blob> {
  const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (response.status === 401) onUnauthorized?.();
  if (!response.ok) throw new ApiError(response.status, `GET ${url}: ${response.status}`, await response.text());
  return response.blob();
}

function call<M extends Method>(method: M) {
  return async <P extends PathsWith<M>>(
    path: P,
    options: CallOptions<Op<P, M>> = {},
  ): Promise<Success<Op<P, M>>> => {
    let url = fill(path, options.path as Record<string, unknown> | undefined);
    const query = options.query as Record<string, unknown> | undefined;
    if (query) {
      const search = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) search.set(k, String(v));
      const s = search.toString();
      if (s) url += `?${s}`;
    }
    return (await request(method, url, options.body)) as Success<Op<P, M>>;
  };
}

export const api = { get: call("get"), post: call("post"), patch: call("patch"), delete: call("delete") };
