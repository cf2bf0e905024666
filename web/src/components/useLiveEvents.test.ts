import { afterEach, describe, expect, it, vi } from "vitest";
import { clearTokens, setTokens } from "../api/tokens";
import { jittered, runLiveEvents, type LiveEvent } from "./useLiveEvents";

const tokens = () =>
  new Response(JSON.stringify({ access_token: "NEW", refresh_token: "R2", expires_in: 900 }), {
    headers: { "content-type": "application/json" },
  });
const problem = (status: number) =>
  new Response(JSON.stringify({ status, title: "T" }), { status, headers: { "content-type": "application/problem+json" } });

/** A scripted /v1/events: one answer per connection, aborting after the last; `log` shows connects and waits. */
function script(controller: AbortController, answers: (() => Response)[]) {
  const log: string[] = [];
  const waits: number[] = [];
  const auths: (string | null)[] = [];
  let i = 0;
  const fetchImpl = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    log.push("connect");
    auths.push(new Request(input, init).headers.get("authorization"));
    const answer = answers[i++];
    if (!answer) {
      controller.abort();
      return stream("");
    }
    return answer();
  });
  const sleep = async (ms: number) => {
    log.push("wait");
    waits.push(ms);
  };
  return { fetchImpl, sleep, log, waits, auths };
}

const stream = (text: string) =>
  new Response(
    new ReadableStream<Uint8Array>({
      start(c) {
        if (text) c.enqueue(new TextEncoder().encode(text));
        c.close();
      },
    }),
    { status: 200, headers: { "content-type": "text/event-stream" } },
  );

afterEach(() => {
  clearTokens();
  vi.unstubAllGlobals();
});

describe("runLiveEvents", () => {
  it("sends the bearer token, parses events and reconnects with Last-Event-ID", async () => {
    setTokens("A1", "R1");
    const seen: Request[] = [];
    const events: LiveEvent[] = [];
    const controller = new AbortController();
    const fetchImpl = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      seen.push(new Request(input, init));
      if (seen.length === 1) {
        return stream(
          ': ping\n\nid: 1-0\nevent: status_changed\ndata: {"issue_id":"i1","from":"open","to":"acknowledged"}\n\n',
        );
      }
      controller.abort();
      return stream("");
    });
    await runLiveEvents((e) => events.push(e), () => undefined, controller.signal, { fetch: fetchImpl, baseDelayMs: 1 });
    expect(seen[0]!.headers.get("authorization")).toBe("Bearer A1");
    expect(seen[0]!.headers.get("last-event-id")).toBeNull();
    expect(events).toEqual([{ id: "1-0", event: "status_changed", data: { issue_id: "i1", from: "open", to: "acknowledged" } }]);
    expect(seen[1]!.headers.get("last-event-id")).toBe("1-0");
  });

  it("refreshes the token on a 401 and reconnects", async () => {
    setTokens("OLD", "R1");
    const controller = new AbortController();
    const auths: (string | null)[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async () =>
        new Response(JSON.stringify({ access_token: "NEW", refresh_token: "R2", expires_in: 900 }), {
          headers: { "content-type": "application/json" },
        }),
      ),
    );
    const fetchImpl = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      auths.push(new Request(input, init).headers.get("authorization"));
      if (auths.length === 1) return new Response(null, { status: 401 });
      controller.abort();
      return stream("");
    });
    await runLiveEvents(() => undefined, () => undefined, controller.signal, { fetch: fetchImpl, baseDelayMs: 1 });
    expect(auths).toEqual(["Bearer OLD", "Bearer NEW"]);
  });

  it("keeps going after a refresh that failed for a network error or a 5xx (tokens kept)", async () => {
    localStorage.setItem("snapfix.refresh_token", "R1"); // a page load: no access token yet
    let tokenCalls = 0;
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => {
        tokenCalls++;
        // The client tries a refresh 3 times (the server's reuse grace makes that safe): the first
        // refresh fails every attempt, the second succeeds.
        if (tokenCalls === 1) throw new TypeError("Failed to fetch");
        if (tokenCalls <= 3) return problem(502);
        return tokens();
      }),
    );
    const controller = new AbortController();
    const s = script(controller, []);
    await runLiveEvents(() => undefined, () => undefined, controller.signal, { fetch: s.fetchImpl, baseDelayMs: 100, sleep: s.sleep });
    expect(tokenCalls).toBe(4);
    expect(s.log).toEqual(["wait", "connect"]);
    expect(s.auths).toEqual(["Bearer NEW"]);
  });

  it("stops when the refresh is refused (the session ended)", async () => {
    setTokens("OLD", "R1");
    vi.stubGlobal("fetch", vi.fn(async () => problem(400)));
    const controller = new AbortController();
    const s = script(controller, [() => new Response(null, { status: 401 }), () => stream("")]);
    await runLiveEvents(() => undefined, () => undefined, controller.signal, { fetch: s.fetchImpl, baseDelayMs: 100, sleep: s.sleep });
    expect(s.log).toEqual(["connect"]);
  });

  it("never retries at once twice in a row after 400s", async () => {
    setTokens("A1", "R1");
    const controller = new AbortController();
    const s = script(controller, [() => problem(400), () => problem(400), () => problem(400), () => problem(400)]);
    await runLiveEvents(() => undefined, () => undefined, controller.signal, { fetch: s.fetchImpl, baseDelayMs: 100, sleep: s.sleep });
    expect(s.log).toEqual(["connect", "connect", "wait", "connect", "connect", "wait", "connect"]);
  });

  it("backs off when a refreshed token is refused again (401, refresh, 401...)", async () => {
    setTokens("A1", "R1");
    vi.stubGlobal("fetch", vi.fn(async () => tokens()));
    const controller = new AbortController();
    const unauthorized = () => new Response(null, { status: 401 });
    const s = script(controller, [unauthorized, unauthorized, unauthorized, unauthorized]);
    await runLiveEvents(() => undefined, () => undefined, controller.signal, { fetch: s.fetchImpl, baseDelayMs: 100, sleep: s.sleep });
    expect(s.log).toEqual(["connect", "connect", "wait", "connect", "connect", "wait", "connect"]);
    expect(s.waits[1]!).toBeGreaterThan(s.waits[0]! / 2); // the delay grows
  });

  it("doubles the delay on 5xx up to 30 s, jittered", async () => {
    setTokens("A1", "R1");
    vi.spyOn(Math, "random").mockReturnValue(1);
    const controller = new AbortController();
    const s = script(controller, Array.from({ length: 8 }, () => () => problem(503)));
    await runLiveEvents(() => undefined, () => undefined, controller.signal, { fetch: s.fetchImpl, baseDelayMs: 5_000, sleep: s.sleep });
    expect(s.waits).toEqual([5_000, 10_000, 20_000, 30_000, 30_000, 30_000, 30_000, 30_000]);
    vi.restoreAllMocks();
    expect(jittered(1000, () => 0)).toBe(500);
    expect(jittered(1000, () => 0.5)).toBe(750);
  });

  it("does nothing when signed out", async () => {
    const fetchImpl = vi.fn();
    await runLiveEvents(() => undefined, () => undefined, new AbortController().signal, { fetch: fetchImpl });
    expect(fetchImpl).not.toHaveBeenCalled();
  });
});
