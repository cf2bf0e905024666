import { afterEach, describe, expect, it, vi } from "vitest";
import { clearTokens, setTokens } from "../api/tokens";
import { runLiveEvents, type LiveEvent } from "./useLiveEvents";

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

  it("does nothing when signed out", async () => {
    const fetchImpl = vi.fn();
    await runLiveEvents(() => undefined, () => undefined, new AbortController().signal, { fetch: fetchImpl });
    expect(fetchImpl).not.toHaveBeenCalled();
  });
});
