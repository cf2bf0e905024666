/// <reference types="vitest/config" />
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

/**
 * Source maps stay out of the build: Vite makes them "hidden" (no sourceMappingURL comment in the
 * scripts) and this drops them before anything is written, so the gateway has none to serve. For
 * triaging a minified stack trace, SNAPFIX_WEB_SOURCEMAP_DIR=<dir outside the build> keeps them there.
 */
function sourceMapsOutOfDist(): Plugin {
  const keepIn = process.env.SNAPFIX_WEB_SOURCEMAP_DIR;
  return {
    name: "snapfix-source-maps-out-of-dist",
    apply: "build",
    enforce: "post",
    generateBundle(_options, bundle) {
      for (const [fileName, output] of Object.entries(bundle)) {
        if (!fileName.endsWith(".map")) continue;
        if (keepIn && output.type === "asset") {
          const target = join(resolve(keepIn), fileName);
          mkdirSync(dirname(target), { recursive: true });
          writeFileSync(target, output.source);
        }
        delete bundle[fileName];
      }
    },
  };
}

// The gateway serves the API and the built app on one origin; in development Vite proxies to it.
const gateway = process.env.SNAPFIX_GATEWAY_URL ?? "http://127.0.0.1:8000";
const proxy = {
  "/v1": { target: gateway, changeOrigin: true },
  "/open311": { target: gateway, changeOrigin: true },
  "/config.json": { target: gateway, changeOrigin: true },
};

export default defineConfig({
  plugins: [react(), sourceMapsOutOfDist()],
  build: { outDir: "dist", sourcemap: "hidden" },
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
