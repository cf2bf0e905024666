import { afterEach, describe, expect, it, vi } from "vitest";
import { ProblemError } from "./problem";
import { fingerprint, outcomeUnknown, SubmitKey } from "./submitKey";
import { gatewayStub } from "./submitKey.stub";

const inProgress = () =>
  new ProblemError({ type: "about:blank", status: 409, title: "Conflict", detail: "A request with this Idempotency-Key is still being processed." });

function counter() {
  let n = 0;
  return () => `k${++n}`;
}

describe("outcomeUnknown", () => {
  it("is true when the request may have been applied", () => {
    for (const status of [0, 408, 429, 500, 502, 503, 504]) expect(outcomeUnknown(new ProblemError({ status }))).toBe(true);
    expect(outcomeUnknown(inProgress())).toBe(true);
    expect(outcomeUnknown(new TypeError("Failed to fetch"))).toBe(true);
  });

  it("is false for every definite answer, a domain 409 included", () => {
    for (const status of [400, 401, 403, 404, 410, 413, 415, 422]) expect(outcomeUnknown(new ProblemError({ status }))).toBe(false);
    expect(outcomeUnknown(new ProblemError({ status: 409, detail: "You watch 20 areas at most." }))).toBe(false);
    expect(outcomeUnknown(new ProblemError({ status: 409, type: "https://snapfix/x", detail: "Idempotency-Key is still being processed" }))).toBe(false);
  });
});

describe("fingerprint", () => {
  it("ignores key order and undefined members, not values, method or path", () => {
    expect(fingerprint("POST", "/a", { x: 1, y: { b: 2, a: [1, { d: 1, c: 2 }] } })).toBe(
      fingerprint("post", "/a", { y: { a: [1, { c: 2, d: 1 }], b: 2 }, x: 1, z: undefined }),
    );
    expect(fingerprint("POST", "/a", { x: 1 })).not.toBe(fingerprint("POST", "/a", { x: 2 }));
    expect(fingerprint("POST", "/a", { x: 1 })).not.toBe(fingerprint("POST", "/b", { x: 1 }));
    expect(fingerprint("POST", "/a")).not.toBe(fingerprint("DELETE", "/a"));
  });
});

describe("SubmitKey", () => {
  it("reuses the key only for the same request whose outcome is unknown", () => {
    const keys = new SubmitKey(counter());
    const a = keys.keyFor("POST", "/v1/me/watches", { name: "Home" });
    keys.settle(a, new ProblemError({ status: 503 }));
    expect(keys.keyFor("POST", "/v1/me/watches", { name: "Home" })).toBe(a);
    keys.settle(a, inProgress());
    expect(keys.keyFor("POST", "/v1/me/watches", { name: "Home" })).toBe(a);
    // the form changed: another request, another key
    expect(keys.keyFor("POST", "/v1/me/watches", { name: "Office" })).not.toBe(a);
  });

  it("gives a fresh key after a definite refusal, even for the identical request", () => {
    const keys = new SubmitKey(counter());
    const a = keys.keyFor("POST", "/v1/me/watches", { name: "Home" });
    keys.settle(a, new ProblemError({ status: 409, detail: "You watch 20 areas at most." }));
    expect(keys.keyFor("POST", "/v1/me/watches", { name: "Home" })).not.toBe(a);
  });

  it("gives a fresh key after a success, and ignores the outcome of a request a newer one replaced", () => {
    const keys = new SubmitKey(counter());
    const a = keys.keyFor("POST", "/x", { n: 1 });
    keys.settle(a);
    const b = keys.keyFor("POST", "/x", { n: 1 });
    expect(b).not.toBe(a);
    const c = keys.keyFor("POST", "/x", { n: 2 });
    keys.settle(b); // b's late answer must not drop c
    keys.settle(c, new ProblemError({ status: 0 }));
    expect(keys.keyFor("POST", "/x", { n: 2 })).toBe(c);
  });

  it("reuses the key for a double submit still in flight", () => {
    const keys = new SubmitKey(counter());
    expect(keys.keyFor("POST", "/x", { n: 1 })).toBe(keys.keyFor("POST", "/x", { n: 1 }));
  });
});

describe("SubmitKey.send through a gateway-like stub", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("a corrected resubmit after a 422 and an identical one after a domain 409 are both processed", async () => {
    let n = 0;
    const answers = [
      () => new Response(JSON.stringify({ status: 422, detail: "bad name" }), { status: 422, headers: { "content-type": "application/problem+json" } }),
      () => new Response(JSON.stringify({ status: 409, detail: "20 at most" }), { status: 409, headers: { "content-type": "application/problem+json" } }),
      () => new Response(JSON.stringify({ id: "w1" }), { status: 201, headers: { "content-type": "application/json" } }),
    ];
    const gw = gatewayStub(() => answers[n++]!());
    vi.stubGlobal("fetch", vi.fn(gw.fetch));
    const keys = new SubmitKey();
    await expect(keys.send("POST", "/v1/me/watches", { json: { name: "" } })).rejects.toMatchObject({ status: 422, detail: "bad name" });
    await expect(keys.send("POST", "/v1/me/watches", { json: { name: "Home" } })).rejects.toMatchObject({ status: 409 });
    await expect(keys.send("POST", "/v1/me/watches", { json: { name: "Home" } })).resolves.toEqual({ id: "w1" });
    expect(gw.handled()).toBe(3);
    const sent = gw.calls.map((c) => c.headers.get("idempotency-key"));
    expect(new Set(sent).size).toBe(3);
  });

  it("a retry after a lost answer carries the same key and is answered from what the gateway kept", async () => {
    let n = 0;
    const gw = gatewayStub(() => new Response(JSON.stringify({ id: `i${++n}` }), { status: 202, headers: { "content-type": "application/json" } }));
    let drop = 4; // the client's own retries (3) with the same key, all answers lost
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
        const response = await gw.fetch(input, init);
        if (drop > 0) {
          drop--;
          throw new TypeError("Failed to fetch"); // applied, but the answer never arrived
        }
        return response;
      }),
    );
    const keys = new SubmitKey();
    await expect(keys.send("POST", "/v1/issues", { json: { title: "Pothole" } })).rejects.toMatchObject({ status: 0 });
    await expect(keys.send("POST", "/v1/issues", { json: { title: "Pothole" } })).resolves.toEqual({ id: "i1" });
    expect(gw.handled()).toBe(1);
    expect(new Set(gw.calls.map((c) => c.headers.get("idempotency-key"))).size).toBe(1);
  }, 15_000);
});
