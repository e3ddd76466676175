import { api, type BotStatus } from "../../api/client";
import { dashboard, errorText, toast } from "../../state/controller";
export { botLabel } from "../../state/controller";

async function run(label: string, action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (error) {
    toast("bad", `${label} failed`, errorText(error));
  } finally {
    void dashboard()?.loadBots();
  }
}

export const startBot = (bot: BotStatus) =>
  run(`Start ${bot.name}`, () => api.post("/api/v1/bots/{bot_id}/start", { path: { bot_id: bot.id } }));

export const stopBot = (bot: BotStatus) =>
  run(`Stop ${bot.name}`, () => api.post("/api/v1/bots/{bot_id}/stop", { path: { bot_id: bot.id } }));

/** A bot holding a position is deleted only once told what to do with it: sell it, or keep the coins. */
export const deleteBot = (bot: BotStatus, position?: "close" | "keep") =>
  run(`Delete ${bot.name}`, async () => {
    await api.delete("/api/v1/bots/{bot_id}", { path: { bot_id: bot.id }, query: position ? { position } : {} });
    toast("info", position === "keep" ? `Deleted ${bot.name}; its coins stay in the account` : `Deleted ${bot.name}`);
  });

/** Market-sell the bot's whole position now (through the order path and its risk rules). */
export const closePosition = (bot: BotStatus) =>
  run(`Close ${bot.name}`, async () => {
    // 202 Accepted: the typed client reads 200 bodies only, so the body is named here.
    const result = (await api.post("/api/v1/bots/{bot_id}/close", { path: { bot_id: bot.id } })) as unknown as
      | { base_size: string; client_order_id: string }
      | undefined;
    toast("info", `Closing ${bot.name}: selling ${result?.base_size ?? "the position"} (order ${result?.client_order_id ?? "stored"})`);
  });

/** Whether the bot holds a position it could sell (the API gives a break-even only then). */
export const holding = (bot: BotStatus) => bot.break_even_price !== null && bot.break_even_price !== undefined;

/** Streaming on: the bot reacts to every ticker; off: it is evaluated on a slow poll. */
export const setStreaming = (bot: BotStatus, on: boolean) =>
  run(`Streaming ${on ? "on" : "off"} for ${bot.name}`, async () => {
    const route = on ? "/api/v1/ws/start-streaming/{bot_id}" : "/api/v1/ws/stop-streaming/{bot_id}";
    const result = await api.post(route, { path: { bot_id: bot.id } });
    toast("info", result.message || `${bot.name}: streaming ${result.streaming ? "on" : "off"}`);
  });
