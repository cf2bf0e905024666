import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_CONFIG, loadConfig, parseConfig, resetConfigCache } from "./config";

afterEach(() => {
  vi.unstubAllGlobals();
  resetConfigCache();
});

describe("config", () => {
  it("falls back to Bengaluru when /config.json is missing", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response("not found", { status: 404 })));
    const config = await loadConfig();
    expect(config).toEqual(DEFAULT_CONFIG);
    expect(config.defaultCenter).toEqual([12.9716, 77.5946]);
    expect(config.defaultZoom).toBe(12);
    expect(config.tileUrl).toBeNull();
  });

  it("falls back on a network error", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Promise.reject(new TypeError("offline"))));
    await expect(loadConfig()).resolves.toEqual(DEFAULT_CONFIG);
  });

  it("uses what the server sends", async () => {
    const body = { tileUrl: "https://t/{z}/{x}/{y}.png", tileAttribution: "© OSM", defaultCenter: [28.6, 77.2], defaultZoom: 11 };
    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } })));
    await expect(loadConfig()).resolves.toEqual(body);
  });

  it("ignores malformed members", () => {
    expect(parseConfig({ defaultCenter: [1], defaultZoom: "x", tileUrl: 3 })).toEqual(DEFAULT_CONFIG);
    expect(parseConfig("nonsense")).toEqual(DEFAULT_CONFIG);
  });
});
