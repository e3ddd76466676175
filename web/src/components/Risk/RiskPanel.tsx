// Daily loss used, drawdown, HALTED states, and the kill switch (with confirmation).
import { api } from "../../api/client";
import { dashboard, errorText, toast } from "../../state/controller";
import { formatMoney } from "../../state/format";
import { useStatus } from "../../hooks/useStatus";
import { agoText } from "../../state/status";
import { type DashboardState, useDashboard } from "../../state/store";
import { ConfirmButton } from "../ui/Confirm";
import { Empty, Panel } from "../ui/Panel";

type Risk = NonNullable<DashboardState["risk"]>;

/** Share of the limit used, 0..1+, or null when the figures are not known yet. */
export function used(lossPct: number | null, limitPct: string): number | null {
  const limit = Number(limitPct);
  if (lossPct === null || !(limit > 0)) return null;
  return Math.max(0, lossPct) / limit;
}

export function riskFigures(risk: Risk): { dailyLossPct: number | null; drawdownPct: number | null } {
  const equity = risk.equity === null ? null : Number(risk.equity);
  const start = risk.day_start_equity === null ? null : Number(risk.day_start_equity);
  const peak = risk.equity_peak === null ? null : Number(risk.equity_peak);
  return {
    dailyLossPct: equity !== null && start ? ((start - equity) / start) * 100 : null,
    drawdownPct: equity !== null && peak ? ((peak - equity) / peak) * 100 : null,
  };
}

function Gauge(props: { label: string; valuePct: number | null; limitPct: string }) {
  const share = used(props.valuePct, props.limitPct);
  const tone = share === null ? "" : share >= 1 ? "bad" : share >= 0.7 ? "warn" : "good";
  return (
    <div className="gauge">
      <div className="gauge-label">
        <span>{props.label}</span>
        <span>
          {props.valuePct === null ? "—" : `${Math.max(0, props.valuePct).toFixed(2)}%`} of {props.limitPct}%
        </span>
      </div>
      <div className="gauge-track">
        <div className={`gauge-fill ${tone}`} style={{ width: `${Math.min(100, (share ?? 0) * 100)}%` }} />
      </div>
    </div>
  );
}

async function act(label: string, action: () => Promise<{ changed: boolean }>): Promise<void> {
  try {
    const result = await action();
    if (!result.changed) toast("info", `${label}: nothing to change`);
  } catch (error) {
    toast("bad", `${label} failed`, errorText(error));
  } finally {
    void dashboard()?.loadRisk();
    void dashboard()?.loadBots();
  }
}

export function RiskPanel() {
  const risk = useDashboard((s) => s.risk);
  const status = useStatus();
  const lost = status.api === "lost";
  const entriesBlocked = status.entriesAllowed === false ? status.entriesReason : null;
  const account = risk?.account;
  const halted = Boolean(account?.halted || account?.kill_switch);
  const reason = account ? account.kill_reason || account.halt_reason : "";
  const haltedBots = risk?.bots.filter((b) => b.halted || b.kill_switch) ?? [];
  const figures = risk ? riskFigures(risk) : null;
  return (
    <Panel
      title="Risk"
      testId="risk-panel"
      className={halted ? "halted" : ""}
      actions={
        halted ? (
          <ConfirmButton
            label="Resume trading"
            title="Resume trading?"
            message="Clears the kill switch and the account's HALTED state; running bots may place orders again."
            confirmLabel="Resume"
            testId="resume"
            disabled={!risk}
            onConfirm={() =>
              act("Resume", () =>
                account?.kill_switch
                  ? api.post("/api/v1/risk/kill-switch", { body: { scope: "account", on: false, reason: "released from the dashboard" } })
                  : api.post("/api/v1/risk/resume", { body: { scope: "account", by: "dashboard" } }),
              ).then(async () => {
                // A kill switch released, the account may still be HALTED by a rule: resume that too.
                if (account?.halted) await act("Resume", () => api.post("/api/v1/risk/resume", { body: { scope: "account", by: "dashboard" } }));
              })
            }
          />
        ) : (
          <ConfirmButton
            label="Kill switch"
            danger
            title="Stop all trading now?"
            message="The kill switch halts trading on the whole account: open orders are cancelled and no bot places a new order until you resume."
            confirmLabel="Halt all trading"
            testId="kill-switch"
            disabled={!risk}
            onConfirm={() => act("Kill switch", () => api.post("/api/v1/risk/kill-switch", { body: { scope: "account", on: true, reason: "kill switch from the dashboard" } }))}
          />
        )
      }
    >
      {risk === null || account === undefined || figures === null ? (
        <Empty>Loading risk…</Empty>
      ) : (
        <>
          <p
            className={`risk-state ${lost ? "muted" : halted || entriesBlocked ? "bad" : "good"}`}
            data-testid="risk-state"
            data-halted={halted}
            data-entries-blocked={entriesBlocked ?? ""}
          >
            {lost
              ? `Unknown: no word from the API since ${agoText(status.lastUpdateAgo)}`
              : halted
              ? `HALTED${account.kill_switch ? " — kill switch on" : ""}${reason ? `: ${reason}` : ""}`
              : entriesBlocked
                ? `Entries blocked: ${entriesBlocked}`
                : "Trading active"}
          </p>
          <Gauge label="Daily loss used" valuePct={figures.dailyLossPct} limitPct={risk.limits.daily_loss_pct} />
          <Gauge label="Drawdown" valuePct={figures.drawdownPct} limitPct={risk.limits.max_drawdown_pct} />
          <dl className="metrics">
            <div>
              <dt>equity</dt>
              <dd>{formatMoney(risk.equity)}</dd>
            </div>
            <div>
              <dt>open orders</dt>
              <dd>{risk.open_orders}</dd>
            </div>
            <div>
              <dt>max order</dt>
              <dd>{formatMoney(risk.limits.max_order_notional)}</dd>
            </div>
            <div>
              <dt>rejections</dt>
              <dd>
                {Object.entries(risk.rejections)
                  .map(([code, n]) => `${code} ${n}`)
                  .join(", ") || "none"}
              </dd>
            </div>
          </dl>
          {haltedBots.length > 0 && (
            <ul className="alerts">
              {haltedBots.map((b) => (
                <li key={b.bot_id ?? 0} className="alert alert-critical">
                  bot #{b.bot_id} HALTED{b.kill_switch ? " (kill switch)" : ""}: {b.kill_reason || b.halt_reason}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </Panel>
  );
}
