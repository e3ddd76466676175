import { api, type BotStatus } from "../../api/client";
import { dashboard, errorText, toast } from "../../state/controller";

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

export const deleteBot = (bot: BotStatus) =>
  run(`Delete ${bot.name}`, async () => {
    await api.delete("/api/v1/bots/{bot_id}", { path: { bot_id: bot.id } });
    toast("info", `Deleted ${bot.name}`);
  });

/** Streaming on: the bot reacts to every ticker; off: it is evaluated on a slow poll. */
export const setStreaming = (bot: BotStatus, on: boolean) =>
  run(`Streaming ${on ? "on" : "off"} for ${bot.name}`, async () => {
    const route = on ? "/api/v1/ws/start-streaming/{bot_id}" : "/api/v1/ws/stop-streaming/{bot_id}";
    const result = await api.post(route, { path: { bot_id: bot.id } });
    toast("info", result.message || `${bot.name}: streaming ${result.streaming ? "on" : "off"}`);
  });
