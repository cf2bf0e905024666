#!/usr/bin/env node
// Runs axe-core in Debian's headless Chromium on a few URLs and fails on serious/critical violations.
//   node --experimental-websocket scripts/axe-check.mjs http://127.0.0.1:4173/ http://127.0.0.1:4173/list
// Options by environment: AXE_WIDTH (default 360), AXE_LOCALE (stored as snapfix.locale before loading).
// A quick check for screen work; the e2e suite is the real gate.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const urls = process.argv.slice(2);
if (!urls.length) throw new Error("usage: axe-check.mjs URL...");
const port = 9000 + Math.floor(Math.random() * 900);
const width = Number(process.env.AXE_WIDTH ?? 360);
const axeSource = readFileSync(new URL("../node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const browser = spawn(
  "/usr/bin/chromium",
  ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
   `--remote-debugging-port=${port}`, `--window-size=${width},800`, "about:blank"],
  { stdio: "ignore" },
);

async function target() {
  for (let i = 0; i < 50; i++) {
    try {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(1000) })).json();
      const page = list.find((t) => t.type === "page");
      if (page) return page.webSocketDebuggerUrl;
    } catch { /* not up yet */ }
    await sleep(200);
  }
  throw new Error("chromium did not start");
}

let failed = false;
try {
  const ws = new WebSocket(await target());
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let id = 0;
  const pending = new Map();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
  };
  const send = (method, params = {}) =>
    new Promise((resolve) => { const n = ++id; pending.set(n, resolve); ws.send(JSON.stringify({ id: n, method, params })); });
  const evaluate = async (expression) => {
    const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true, timeout: 30000 });
    if (r.result?.exceptionDetails) throw new Error(JSON.stringify(r.result.exceptionDetails));
    return r.result?.result?.value;
  };
  for (const url of urls) {
    if (process.env.AXE_LOCALE) {
      await send("Page.navigate", { url: new URL("/", url).toString() });
      await sleep(1000);
      await evaluate(`localStorage.setItem("snapfix.locale", ${JSON.stringify(process.env.AXE_LOCALE)})`);
    }
    await send("Page.navigate", { url });
    await sleep(2500);
    await evaluate(axeSource);
    const violations = await evaluate(
      `axe.run(document, { resultTypes: ["violations"] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" ")) })))`,
    );
    const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    console.log(`${bad.length ? "FAIL" : "ok  "} ${url} (${violations.length} violations, ${bad.length} serious/critical)`);
    for (const v of violations) console.log(`     ${v.impact} ${v.id}: ${v.nodes.join(", ")}`);
    if (bad.length) failed = true;
  }
  ws.close();
} finally {
  browser.kill();
}
process.exit(failed ? 1 : 0);
