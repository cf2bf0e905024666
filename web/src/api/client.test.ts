import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, newIdempotencyKey, ProblemError, refreshAccessToken } from "./client";
import { clearTokens, getAccessToken, getRefreshToken, setTokens } from "./tokens";

type Handler = (request: Request) => Response | Promise<Response>;

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const problem = (status: number, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ type: "about:blank", title: "T", status, ...extra }), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });

let calls: Request[] = [];
function serve(...handlers: Handler[]) {
  calls = [];
  let i = 0;
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      calls.push(request.clone());
      const handler = handlers[Math.min(i++, handlers.length - 1)]!;
      return handler(request);
    }),
  );
}

beforeEach(() => clearTokens());
afterEach(() => vi.unstubAllGlobals());

describe("api client", () => {
  it("sends the bearer token and parses JSON", async () => {
    setTokens("A1", "R1");
    serve(() => json({ id: "u1" }));
    await expect(api.get("/v1/me")).resolves.toEqual({ id: "u1" });
    expect(calls[0]!.headers.get("authorization")).toBe("Bearer A1");
    expect(new URL(calls[0]!.url).pathname).toBe("/v1/me");
  });

  it("passes the cache mode to fetch (a screen that edits what it reads revalidates it)", async () => {
    setTokens("A1", "R1", 900);
    serve(() => json({ items: [] }));
    await api.get("/v1/categories", { cache: "no-cache" });
    await api.get("/v1/categories");
    expect(calls[0]!.cache).toBe("no-cache");
    expect(calls[1]!.cache).toBe("default");
  });

  it("drops empty search params and repeats arrays", async () => {
    serve(() => json({ items: [] }));
    await api.get("/v1/issues", { searchParams: { status: ["open", "reopened"], cursor: undefined, q: "", limit: 20 } });
    expect(new URL(calls[0]!.url).search).toBe("?status=open&status=reopened&limit=20");
  });

  it("on a 401 refreshes once (form-encoded) and retries the call once", async () => {
    setTokens("OLD", "R1");
    serve(
      () => problem(401),
      async (req) => {
        expect(new URL(req.url).pathname).toBe("/v1/auth/token");
        expect(req.headers.get("content-type")).toContain("application/x-www-form-urlencoded");
        const form = new URLSearchParams(await req.text());
        expect(form.get("grant_type")).toBe("refresh_token");
        expect(form.get("refresh_token")).toBe("R1");
        return json({ access_token: "NEW", refresh_token: "R2", token_type: "bearer", expires_in: 900 });
      },
      () => json({ ok: true }),
    );
    await expect(api.post("/v1/issues/x/vote", { json: { up: true } })).resolves.toEqual({ ok: true });
    expect(calls).toHaveLength(3);
    expect(calls[2]!.headers.get("authorization")).toBe("Bearer NEW");
    expect(await calls[2]!.text()).toBe('{"up":true}');
    expect(getAccessToken()).toBe("NEW");
    expect(getRefreshToken()).toBe("R2");
  });

  it("does not loop when the retried call is 401 again", async () => {
    setTokens("OLD", "R1");
    serve(
      () => problem(401, { detail: "expired" }),
      () => json({ access_token: "NEW", refresh_token: "R2", expires_in: 900 }),
      () => problem(401, { detail: "still no" }),
    );
    const error = await api.get("/v1/me").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect((error as ProblemError).status).toBe(401);
    expect(calls).toHaveLength(3);
  });

  it("clears the session when the refresh token is refused", async () => {
    setTokens("OLD", "R1");
    serve(() => problem(401), () => problem(400, { error: "invalid_grant" }), () => problem(401));
    await expect(api.get("/v1/me")).rejects.toMatchObject({ status: 401 });
    expect(getRefreshToken()).toBeNull();
    expect(getAccessToken()).toBeNull();
  });

  it("retries a GET once without a token when the refresh is refused (public reads still work)", async () => {
    setTokens("REVOKED", "R1");
    serve(
      () => problem(401),
      () => problem(400, { error: "invalid_grant" }),
      () => json({ items: [{ code: "pothole" }] }),
    );
    await expect(api.get("/v1/categories")).resolves.toEqual({ items: [{ code: "pothole" }] });
    expect(calls.map((c) => new URL(c.url).pathname)).toEqual(["/v1/categories", "/v1/auth/token", "/v1/categories"]);
    expect(calls[0]!.headers.get("authorization")).toBe("Bearer REVOKED");
    expect(calls[2]!.headers.get("authorization")).toBeNull();
  });

  it("does not retry a POST anonymously when the refresh is refused", async () => {
    setTokens("REVOKED", "R1");
    serve(() => problem(401), () => problem(400, { error: "invalid_grant" }), () => json({ ok: 1 }));
    await expect(api.post("/v1/issues/x/vote", { json: {} })).rejects.toMatchObject({ status: 401 });
    expect(calls).toHaveLength(2);
  });

  it("retries the refresh after a 5xx whose answer may have been lost (the server's reuse grace honours it)", async () => {
    for (const fail of [() => problem(502), () => problem(504), () => problem(503, {}, { "retry-after": "0" })]) {
      clearTokens();
      setTokens("OLD", "R1");
      serve(fail, () => json({ access_token: "NEW", refresh_token: "R2", expires_in: 900 }));
      await expect(refreshAccessToken()).resolves.toBe("NEW");
      expect(calls).toHaveLength(2);
      for (const call of calls) expect(new URLSearchParams(await call.text()).get("refresh_token")).toBe("R1");
      expect(getRefreshToken()).toBe("R2");
    }
  });

  it("keeps the session when every refresh attempt fails, and stops after 3 attempts", async () => {
    setTokens("OLD", "R1");
    serve(() => problem(502));
    await expect(refreshAccessToken()).resolves.toBeNull();
    expect(calls).toHaveLength(3);
    expect(getRefreshToken()).toBe("R1");
  });

  it("retries the refresh POST after a network error", async () => {
    setTokens("OLD", "R1");
    serve(
      () => {
        throw new TypeError("Failed to fetch");
      },
      () => json({ access_token: "NEW", refresh_token: "R2", expires_in: 900 }),
    );
    await expect(refreshAccessToken()).resolves.toBe("NEW");
    expect(calls).toHaveLength(2);
  });

  it("retries the refresh POST after a 429 (refused before use)", async () => {
    setTokens("OLD", "R1");
    serve(
      () => problem(429, {}, { "retry-after": "0" }),
      () => json({ access_token: "NEW", refresh_token: "R2", expires_in: 900 }),
    );
    await expect(refreshAccessToken()).resolves.toBe("NEW");
    expect(calls).toHaveLength(2);
    expect(getRefreshToken()).toBe("R2");
  });

  it("sends the CURRENT access token on a retry", async () => {
    setTokens("A1", "R1");
    serve(
      () => {
        setTokens("A2", "R2", 900); // refreshed meanwhile (this tab or another)
        return problem(503, {}, { "retry-after": "0" });
      },
      () => json({ ok: 1 }),
    );
    await api.get("/v1/me");
    expect(calls.map((c) => c.headers.get("authorization"))).toEqual(["Bearer A1", "Bearer A2"]);
  });

  it("keeps an Authorization header the caller set, on retries too", async () => {
    setTokens("A1", "R1");
    serve(() => problem(503, {}, { "retry-after": "0" }), () => json({ ok: 1 }));
    await api.get("/v1/me", { headers: { Authorization: "Bearer MINE" } });
    expect(calls.map((c) => c.headers.get("authorization"))).toEqual(["Bearer MINE", "Bearer MINE"]);
  });

  it("on a 401 uses a token another tab stored instead of refreshing", async () => {
    setTokens("A1", "R1");
    serve(
      () => {
        setTokens("A2", "R2", 900);
        return problem(401);
      },
      () => json({ ok: 1 }),
    );
    await expect(api.get("/v1/me")).resolves.toEqual({ ok: 1 });
    expect(calls.map((c) => new URL(c.url).pathname)).toEqual(["/v1/me", "/v1/me"]);
    expect(calls[1]!.headers.get("authorization")).toBe("Bearer A2");
  });

  it("shares one refresh between concurrent callers", async () => {
    setTokens("OLD", "R1");
    serve(() => json({ access_token: "NEW", refresh_token: "R2", expires_in: 900 }));
    const [a, b] = await Promise.all([refreshAccessToken(), refreshAccessToken()]);
    expect(a).toBe("NEW");
    expect(b).toBe("NEW");
    expect(calls).toHaveLength(1);
  });

  it("retries a POST after a 503 with the same Idempotency-Key", async () => {
    serve(() => problem(503), () => json({ id: "i1" }, 202));
    const key = newIdempotencyKey();
    await expect(api.post("/v1/issues", { json: { title: "x" }, idempotencyKey: key })).resolves.toEqual({ id: "i1" });
    expect(calls).toHaveLength(2);
    expect(calls[0]!.headers.get("idempotency-key")).toBe(key);
    expect(calls[1]!.headers.get("idempotency-key")).toBe(key);
  });

  it("gives every mutating call an Idempotency-Key, kept across retries", async () => {
    serve(() => problem(502), () => new Response(null, { status: 204 }));
    await expect(api.delete("/v1/me/watches/w1")).resolves.toBeUndefined();
    const key = calls[0]!.headers.get("idempotency-key");
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls[1]!.headers.get("idempotency-key")).toBe(key);
  });

  it("waits for Retry-After on a 429", async () => {
    serve(() => problem(429, {}, { "retry-after": "1" }), () => json({ ok: 1 }));
    const started = Date.now();
    await api.get("/v1/issues");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(calls).toHaveLength(2);
  });

  it("gives up after 3 retries with the last problem", async () => {
    serve(() => problem(503, { detail: "overloaded" }, { "retry-after": "0" }));
    const error = (await api.get("/v1/issues").catch((e: unknown) => e)) as ProblemError;
    expect(calls).toHaveLength(4);
    expect(error.status).toBe(503);
    expect(error.detail).toBe("overloaded");
  }, 15_000);

  it("does not retry a 422 and exposes its field errors", async () => {
    serve(() =>
      problem(422, {
        title: "Unprocessable Content",
        detail: "The request is not valid",
        errors: [{ field: "title", message: "Field required", location: ["body", "title"], type: "missing" }],
      }),
    );
    const error = (await api.post("/v1/issues", { json: {} }).catch((e: unknown) => e)) as ProblemError;
    expect(calls).toHaveLength(1);
    expect(error).toBeInstanceOf(ProblemError);
    expect(error.status).toBe(422);
    expect(error.detail).toBe("The request is not valid");
    expect(error.fieldError("title")).toBe("Field required");
    expect(error.fieldError("description")).toBeUndefined();
  });

  it("turns a network failure into a ProblemError with status 0", async () => {
    serve(() => {
      throw new TypeError("Failed to fetch");
    });
    await expect(api.get("/v1/issues")).rejects.toMatchObject({ name: "ProblemError", status: 0 });
  });
});

describe("refresh across tabs", () => {
  /** A stand-in for navigator.locks: `meanwhile` is what another tab does before this one gets the lock. */
  function fakeLocks(meanwhile: () => void) {
    const names: string[] = [];
    const locks = {
      request: async (name: string, _options: unknown, fn: () => Promise<unknown>) => {
        names.push(name);
        meanwhile();
        return fn();
      },
    };
    Object.defineProperty(navigator, "locks", { value: locks, configurable: true });
    return names;
  }
  afterEach(() => {
    delete (navigator as { locks?: unknown }).locks;
  });

  it("refreshes holding the snapfix-refresh lock", async () => {
    setTokens("OLD", "R1");
    const names = fakeLocks(() => undefined);
    serve(() => json({ access_token: "NEW", refresh_token: "R2", expires_in: 900 }));
    await expect(refreshAccessToken()).resolves.toBe("NEW");
    expect(names).toEqual(["snapfix-refresh"]);
  });

  it("uses the access token another tab got instead of presenting the rotated refresh token", async () => {
    localStorage.setItem("snapfix.refresh_token", "R1"); // a fresh page load: no access token yet
    fakeLocks(() => setTokens("A2", "R2", 900)); // the other tab refreshed first
    serve(() => problem(400, { error: "invalid_grant" }));
    await expect(refreshAccessToken()).resolves.toBe("A2");
    expect(calls).toHaveLength(0);
    expect(getRefreshToken()).toBe("R2");
  });

  it("presents the CURRENT refresh token when another tab rotated it without sharing an access token", async () => {
    localStorage.setItem("snapfix.refresh_token", "R1");
    fakeLocks(() => localStorage.setItem("snapfix.refresh_token", "R2"));
    serve(async (req) => {
      expect(new URLSearchParams(await req.text()).get("refresh_token")).toBe("R2");
      return json({ access_token: "A3", refresh_token: "R3", expires_in: 900 });
    });
    await expect(refreshAccessToken()).resolves.toBe("A3");
    expect(calls).toHaveLength(1);
  });

  it("does nothing when another tab signed out meanwhile", async () => {
    setTokens("OLD", "R1");
    fakeLocks(() => localStorage.clear());
    serve(() => json({ access_token: "NEW", refresh_token: "R2", expires_in: 900 }));
    await expect(refreshAccessToken()).resolves.toBeNull();
    expect(calls).toHaveLength(0);
  });
});

describe("newIdempotencyKey", () => {
  it("makes distinct v4 UUIDs", () => {
    const a = newIdempotencyKey();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newIdempotencyKey()).not.toBe(a);
  });
});
