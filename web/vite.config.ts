/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The gateway serves the API and the built app on one origin; in development Vite proxies to it.
const gateway = process.env.SNAPFIX_GATEWAY_URL ?? "http://127.0.0.1:8000";
const proxy = {
  "/v1": { target: gateway, changeOrigin: true },
  "/open311": { target: gateway, changeOrigin: true },
  "/config.json": { target: gateway, changeOrigin: true },
};

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: true },
  server: { proxy },
  preview: { proxy },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    // A loaded machine (make test beside the stack) can take seconds to import a lazily loaded page.
    testTimeout: 30_000,
  },
});
