import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// `npm run dev` proxies the API (REST and WebSockets) to a platform started with `make run`.
const api = process.env.STREAMBOT_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: { proxy: { "/api": { target: api, ws: true } } },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
