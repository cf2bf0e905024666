/**
 * The one HTTP client of the app. Paths are absolute on this origin (`/v1/issues`).
 *
 * - adds `Authorization: Bearer <access token>` when signed in;
 * - on a 401, exchanges the refresh token ONCE (shared by concurrent calls, one tab at a time) and retries
 *   the call once; when the refresh is refused, a GET is retried once without a token;
 * - retries 429 (waiting for Retry-After) and 502/503/504 (backoff), up to 3 times, for every method:
 *   mutating calls always carry an `Idempotency-Key`, so a retry can never apply twice;
 * - every failure rejects with a ProblemError (see ./problem.ts).
 */
import ky, { type KyInstance, type Options } from "ky";
import type { components } from "./schema";
import { ProblemError, toProblemError } from "./problem";
import { clearTokens, getAccessToken, getRefreshToken, setTokens } from "./tokens";

export { ProblemError } from "./problem";
export type TokenResponse = components["schemas"]["TokenResponse"];

export const TIMEOUT_MS = 15_000;

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** A fresh Idempotency-Key: make ONE per logical submit, keep it until that submit succeeds. */
export function newIdempotencyKey(): string {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === "function") return c.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not (plain http on a LAN address).
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const retry = {
  limit: 3,
  methods: ["get", "head", "options", "post", "put", "patch", "delete"],
  statusCodes: [429, 502, 503, 504],
  afterStatusCodes: [429, 503],
  maxRetryAfter: 60_000,
  backoffLimit: 10_000,
};

/** Sets the CURRENT access token on every attempt (ky's retries too), unless the caller set the header. */
function callerSetAuthorization(options: { headers?: HeadersInit }): boolean {
  return new Headers(options.headers).has("authorization");
}

const isTokenCall = (request: Request) => new URL(request.url).pathname === "/v1/auth/token";

/** Without the refresh hook: used for the token endpoint and for the one retry after a refresh. */
const base: KyInstance = ky.create({
  timeout: TIMEOUT_MS,
  retry,
  hooks: {
    beforeRequest: [
      (request, options) => {
        if (!isTokenCall(request) && !callerSetAuthorization(options)) {
          const token = getAccessToken();
          if (token) request.headers.set("Authorization", `Bearer ${token}`);
          else request.headers.delete("Authorization");
        }
        if (MUTATING.has(request.method) && !request.headers.has("Idempotency-Key")) {
          request.headers.set("Idempotency-Key", newIdempotencyKey());
        }
      },
    ],
  },
});

/**
 * A refresh token is good for ONE use: presenting a rotated one again revokes the whole session, except
 * within the server's reuse grace (SNAPFIX_REFRESH_REUSE_GRACE_S, 30 s by default), when the token just
 * rotated away from is honoured once more. So a refresh whose answer was lost (a timeout, a network error,
 * a 502/503/504) is retried, and every attempt ends within 30 s of the first: 3 attempts of at most 8 s,
 * at most 2 s apart.
 */
const REFRESH_TIMEOUT_MS = 8_000;
const REFRESH_RETRY = {
  limit: 2,
  methods: ["post"],
  statusCodes: [429, 502, 503, 504],
  afterStatusCodes: [429, 503],
  maxRetryAfter: 2_000,
  backoffLimit: 2_000,
  retryOnTimeout: true,
};

/** The Web Locks name that serialises refreshes across this site's tabs. */
export const REFRESH_LOCK = "snapfix-refresh";
const LOCK_WAIT_MS = 45_000;

/** Runs `fn` holding the cross-tab refresh lock (without one where the browser has no Web Locks, e.g. jsdom). */
async function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks || typeof locks.request !== "function") return fn();
  return locks.request(REFRESH_LOCK, { signal: AbortSignal.timeout(LOCK_WAIT_MS) }, fn);
}

let refreshing: Promise<string | null> | null = null;

/**
 * Exchanges the stored refresh token for new tokens, one tab at a time (Web Locks); null when there is
 * none, when it is refused (tokens cleared) or when the server cannot be reached (tokens kept).
 * Inside the lock it re-reads the stored refresh token: when another tab rotated it meanwhile and stored
 * a fresh access token, that one is used and nothing is presented; otherwise the CURRENT refresh token is.
 */
export function refreshAccessToken(): Promise<string | null> {
  refreshing ??= (async () => {
    const startedWith = getRefreshToken();
    const hadAccess = getAccessToken();
    if (!startedWith) return null;
    try {
      return await withRefreshLock(async () => {
        const refresh = getRefreshToken();
        if (!refresh) return null; // signed out (or refused) in another tab meanwhile
        if (refresh !== startedWith) {
          const shared = getAccessToken();
          if (shared && shared !== hadAccess) return shared; // another tab refreshed: use its token
        }
        try {
          const tokens = await requestToken({ grant_type: "refresh_token", refresh_token: refresh });
          return tokens.access_token;
        } catch (error) {
          const problem = await toProblemError(error);
          // A refused refresh token ends the session; a network failure, a 5xx or a 429 does not.
          if ([400, 401, 403].includes(problem.status) && getRefreshToken() === refresh) clearTokens();
          return null;
        }
      });
    } catch {
      return null; // the lock was not granted in time
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** `/v1/x` on this origin (a Request needs an absolute URL outside a browser, as in tests). */
export function absolute(path: string): string {
  return new URL(path, globalThis.location?.href ?? "http://localhost/").toString();
}

/** POST /v1/auth/token (form-encoded); stores the tokens it gets. */
export async function requestToken(form: Record<string, string>): Promise<TokenResponse> {
  try {
    const tokens = await base
      .post(absolute("/v1/auth/token"), {
        body: new URLSearchParams(form),
        ...(form.grant_type === "refresh_token" ? { retry: REFRESH_RETRY, timeout: REFRESH_TIMEOUT_MS } : {}),
      })
      .json<TokenResponse>();
    setTokens(tokens.access_token, tokens.refresh_token, tokens.expires_in);
    return tokens;
  } catch (error) {
    throw await toProblemError(error);
  }
}

/** The ky instance with the refresh-once behaviour; prefer the typed helpers in `api` below. */
export const http: KyInstance = base.extend({
  hooks: {
    afterResponse: [
      async (request, options, response) => {
        if (response.status !== 401 || isTokenCall(request) || callerSetAuthorization(options)) return;
        const sent = request.headers.get("Authorization");
        let token = getAccessToken();
        // Another tab may have refreshed already: then its token is tried without refreshing again.
        if (!token || `Bearer ${token}` === sent) token = getRefreshToken() ? await refreshAccessToken() : null;
        const again = new Request(request);
        again.headers.delete("Authorization"); // beforeRequest sets the current one, if any
        if (token) return base(again);
        // The session ended (the refresh was refused): a read that sent a token is tried once
        // anonymously, so what anyone may read still shows.
        if (sent && !getRefreshToken() && (request.method === "GET" || request.method === "HEAD")) return base(again);
        return;
      },
    ],
  },
});

export type SearchParams = Record<string, string | number | boolean | undefined | null | readonly string[]>;

export interface CallOptions {
  searchParams?: SearchParams;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /**
   * The browser HTTP cache mode. Some reads are cacheable (`/v1/categories`: `max-age=60`, varying on
   * Authorization), and the access token now outlives a reload, so a screen that edits what it reads
   * passes "no-cache": the browser revalidates (a cheap 304 when nothing changed) instead of showing
   * the body it cached before the edit.
   */
  cache?: RequestCache;
}
export interface SendOptions extends CallOptions {
  json?: unknown;
  body?: BodyInit;
  /** Reuse the same key across the user's re-submits of one form (newIdempotencyKey()). */
  idempotencyKey?: string;
}

function toSearchParams(params: SearchParams | undefined): URLSearchParams | undefined {
  if (!params) return undefined;
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v: string) => out.append(key, v));
    else out.append(key, String(value));
  }
  return out;
}

async function call<T>(method: string, path: string, opts: SendOptions = {}): Promise<T> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  const options: Options = { method, headers, signal: opts.signal, searchParams: toSearchParams(opts.searchParams) };
  if (opts.cache !== undefined) options.cache = opts.cache;
  if (opts.json !== undefined) options.json = opts.json;
  if (opts.body !== undefined) options.body = opts.body;
  try {
    const response = await http(absolute(path), options);
    if (response.status === 204 || response.headers.get("content-length") === "0") return undefined as T;
    const type = response.headers.get("content-type") ?? "";
    return (type.includes("json") ? await response.json() : await response.text()) as T;
  } catch (error) {
    throw await toProblemError(error);
  }
}

/** Typed calls. `T` is the response body; use the aliases in ./types.ts. */
export const api = {
  get: <T>(path: string, opts?: CallOptions) => call<T>("GET", path, opts),
  post: <T>(path: string, opts?: SendOptions) => call<T>("POST", path, opts),
  put: <T>(path: string, opts?: SendOptions) => call<T>("PUT", path, opts),
  patch: <T>(path: string, opts?: SendOptions) => call<T>("PATCH", path, opts),
  delete: <T = void>(path: string, opts?: SendOptions) => call<T>("DELETE", path, opts),
};

export function isProblem(error: unknown): error is ProblemError {
  return error instanceof ProblemError;
}
