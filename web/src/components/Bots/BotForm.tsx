// Create or edit a bot; the strategy's parameters come from its JSON schema.
import { type FormEvent, useEffect, useMemo, useState } from "react";
import { api, ApiError, type BotStatus, type Schemas } from "../../api/client";
import { dashboard, errorText, toast } from "../../state/controller";
import { formatMoney } from "../../state/format";
import { useDashboard } from "../../state/store";
import { type Field, fieldOfError, fieldsOf, paramsFrom, sentence, valuesFrom } from "./schemaForm";

interface Props {
  bot?: BotStatus;
  onDone: () => void;
}

type ServerErrors = Record<string, string>;

const TOP_LABELS: Record<string, string> = { name: "Name", strategy: "Strategy", product_id: "Product", budget: "Budget", params: "Parameters" };

/** The server's 422 as sentences next to the fields they are about; anything else as one message. */
export function serverErrors(error: unknown, fields: Field[]): { fields: ServerErrors; message: string } {
  const out: ServerErrors = {};
  if (error instanceof ApiError && Array.isArray(error.detail)) {
    for (const d of error.detail as { loc?: unknown[]; msg?: string }[]) {
      const key = fieldOfError((d.loc ?? []).map(String), d.msg ?? "", fields);
      const label = key.startsWith("params.") ? (fields.find((f) => `params.${f.name}` === key)?.label ?? key) : (TOP_LABELS[key] ?? key);
      out[key || "form"] = sentence(label, d.msg ?? "is not valid");
    }
    const unplaced = Object.entries(out).filter(([k]) => k === "form" || k === "params");
    return {
      fields: out,
      message: unplaced.length ? unplaced.map(([, v]) => v).join(" ") : "Fix the marked fields: the server did not accept them.",
    };
  }
  return { fields: out, message: errorText(error) };
}

type Limits = Schemas["BudgetLimitsOut"];

/** A budget's problem as a sentence, or "" when it is fine: a positive amount within the configured
 * maximum and (when known) the cash available in the product's quote currency. */
export function budgetProblem(budget: string, quote: string, limits: Limits | null): string {
  const n = Number(budget);
  if (!budget.trim() || !Number.isFinite(n) || n <= 0) return `Budget must be a positive amount in ${quote || "the quote currency"}.`;
  if (limits && n > Number(limits.maximum))
    return `Budget must be at most ${formatMoney(limits.maximum)} ${quote} (the configured maximum, STREAMBOT_MAX_BOT_BUDGET).`;
  const cash = limits?.cash_available?.[quote];
  if (cash !== undefined && n > Number(cash)) return `Budget is more than the ${formatMoney(cash)} ${quote} cash available.`;
  return "";
}

export function BotForm({ bot, onDone }: Props) {
  const strategies = useDashboard((s) => s.strategies);
  const products = useDashboard((s) => s.products);
  const [name, setName] = useState(bot?.name ?? "");
  const [strategyName, setStrategyName] = useState(bot?.strategy ?? "");
  const [productId, setProductId] = useState(bot?.product_id ?? "");
  const [budget, setBudget] = useState(bot?.budget ?? "250");
  const strategy = strategies?.find((s) => s.name === strategyName);
  const fields = useMemo(() => (strategy ? fieldsOf(strategy.schema) : []), [strategy]);
  const [values, setValues] = useState<Record<string, string | boolean>>(() => ({}));
  const [touched, setTouched] = useState<string | null>(null);
  const [errors, setErrors] = useState<ServerErrors>({});
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);
  const [limits, setLimits] = useState<Limits | null>(null);
  useEffect(() => {
    api.get("/api/v1/bots/budget-limits").then(setLimits, () => setLimits(null));
  }, []);
  const quote = productId.split("-")[1] ?? "";

  // Reset the parameter values when the strategy changes (and on first render for an edit).
  if (strategy && touched !== strategy.name) {
    setTouched(strategy.name);
    setValues(valuesFrom(fields, bot && bot.strategy === strategy.name ? bot.params : {}));
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const local: ServerErrors = {};
    if (!name.trim()) local.name = "Give the bot a name.";
    if (!bot && !strategy) local.strategy = "Choose a strategy.";
    if (!bot && !productId) local.product_id = "Choose a product.";
    // An edit keeps its budget's money in the bot already: only the maximum applies.
    const budgetError = budgetProblem(budget, quote, bot && limits ? { ...limits, cash_available: null } : limits);
    if (budgetError) local.budget = budgetError;
    const { params, errors: paramErrors } = paramsFrom(fields, values);
    for (const [k, v] of Object.entries(paramErrors)) local[`params.${k}`] = v;
    setErrors(local);
    if (Object.keys(local).length) {
      setMessage("Fix the marked fields.");
      return;
    }
    setBusy(true);
    setMessage("");
    try {
      if (bot) {
        await api.patch("/api/v1/bots/{bot_id}", { path: { bot_id: bot.id }, body: { name, params, budget } });
        toast("good", `Saved ${name}`, bot.state === "running" ? "the running bot restarted with the new settings" : "");
      } else {
        const created = await api.post("/api/v1/bots", {
          body: { name, strategy: strategyName, product_id: productId, params, budget },
        });
        toast("good", `Created ${created.name}`, `#${created.id} on ${created.product_id}; start it from the table`);
      }
      void dashboard()?.loadBots();
      onDone();
    } catch (error) {
      const parsed = serverErrors(error, fields);
      setErrors(parsed.fields);
      setMessage(parsed.message);
    } finally {
      setBusy(false);
    }
  };

  if (strategies === null) return <p className="empty">Loading strategies…</p>;

  return (
    <form className="bot-form" onSubmit={(e) => void submit(e)} data-testid="bot-form" noValidate>
      <div className="form-grid">
        <label>
          Name
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
          {errors.name && <em className="field-error">{errors.name}</em>}
        </label>
        <label>
          Strategy
          <select name="strategy" value={strategyName} disabled={!!bot} onChange={(e) => setStrategyName(e.target.value)}>
            <option value="">choose…</option>
            {strategies.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name}
              </option>
            ))}
          </select>
          {errors.strategy && <em className="field-error">{errors.strategy}</em>}
        </label>
        <label>
          Product
          <select name="product_id" value={productId} disabled={!!bot} onChange={(e) => setProductId(e.target.value)}>
            <option value="">choose…</option>
            {(products.includes(productId) || !productId ? products : [productId, ...products]).map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
          {errors.product_id && <em className="field-error">{errors.product_id}</em>}
        </label>
        <label>
          Budget ({quote || "quote currency"})
          <input name="budget" inputMode="decimal" value={budget} onChange={(e) => setBudget(e.target.value)} aria-invalid={Boolean(errors.budget)} />
          {limits && (
            <small className="muted" data-testid="budget-hint">
              at most {formatMoney(limits.maximum)}
              {quote && limits.cash_available?.[quote] !== undefined ? ` · ${formatMoney(limits.cash_available[quote])} ${quote} cash available` : ""}
            </small>
          )}
          {errors.budget && <em className="field-error">{errors.budget}</em>}
        </label>
      </div>
      {strategy && <p className="muted">{strategy.description}</p>}
      {fields.length > 0 && (
        <fieldset className="form-grid">
          <legend>Parameters (empty = default)</legend>
          {fields.map((field) => {
            const key = `params.${field.name}`;
            const value = values[field.name];
            const def = field.defaultValue ?? strategy?.defaults[field.name];
            return (
              <label key={field.name} title={field.description} className={field.kind === "boolean" ? "check" : ""}>
                <span>
                  {field.label}
                  {field.unit && <small className="muted"> ({field.unit})</small>}
                </span>
                {field.kind === "boolean" ? (
                  <input
                    type="checkbox"
                    name={key}
                    checked={Boolean(value)}
                    onChange={(e) => setValues({ ...values, [field.name]: e.target.checked })}
                  />
                ) : field.kind === "enum" ? (
                  <select name={key} value={String(value ?? "")} onChange={(e) => setValues({ ...values, [field.name]: e.target.value })}>
                    <option value="">default{def !== undefined && def !== null ? ` (${String(def)})` : ""}</option>
                    {field.options.map((o) => (
                      <option key={o} value={o}>
                        {o}
                      </option>
                    ))}
                  </select>
                ) : (
                  <input
                    name={key}
                    inputMode={field.kind === "text" ? "text" : "decimal"}
                    placeholder={def !== undefined && def !== null ? String(def) : field.optional ? "off" : ""}
                    value={String(value ?? "")}
                    onChange={(e) => setValues({ ...values, [field.name]: e.target.value })}
                  />
                )}
                {field.description && <small className="muted">{field.description}</small>}
                {errors[key] && <em className="field-error">{errors[key]}</em>}
              </label>
            );
          })}
        </fieldset>
      )}
      {message && <p className="form-error">{message}</p>}
      <div className="form-actions">
        <button type="button" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Saving…" : bot ? "Save" : "Create bot"}
        </button>
      </div>
    </form>
  );
}
