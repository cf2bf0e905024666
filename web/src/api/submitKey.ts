/**
 * The Idempotency-Key of a form's submits, following what the gateway keeps
 * (gateway/src/snapfix_gateway/idempotency.py): every POST answer below 500 is kept under its key
 * for 24 h and replayed for the same request; the same key with another request is refused (422).
 *
 * The rule: a key is reused ONLY for the identical request (method, path, body) whose previous
 * outcome is UNKNOWN: no answer (network error, timeout, aborted), 408, 429, 5xx, or the gateway's
 * "still being processed" 409. After a success or any definite answer (2xx, other 4xx, including
 * a domain 409 such as "20 watches at most") the next submit gets a fresh key, so a corrected
 * (or even an identical) resubmit is processed again instead of replaying the old refusal.
 */
import { useState } from "react";
import { api, newIdempotencyKey, type SendOptions } from "./client";
import { ProblemError } from "./problem";

/** The gateway's answer to a retry that arrives while the first request with its key still runs. */
const IN_PROGRESS = /Idempotency-Key is still being processed/i;

/** True when the request may or may not have been applied (so a retry must carry the same key). */
export function outcomeUnknown(error: unknown): boolean {
  if (!(error instanceof ProblemError)) return true; // something other than an answer
  const s = error.status;
  if (s === 0 || s === 408 || s === 429 || s >= 500) return true;
  if (s === 409) return error.type === "about:blank" && IN_PROGRESS.test(error.detail ?? "");
  return false;
}

export type Method = "POST" | "PUT" | "PATCH" | "DELETE";

/** A stable text for a request: object keys sorted at every depth, so `{a, b}` and `{b, a}` match. */
export function fingerprint(method: string, path: string, body?: unknown): string {
  const stable = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(stable);
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .sort()
          .map((k) => [k, stable((v as Record<string, unknown>)[k])]),
      );
    }
    return v ?? null;
  };
  return JSON.stringify([method.toUpperCase(), path, stable(body)]);
}

/** One form's keys. `send()` does it all; `keyFor()` + `settle()` when the call is made elsewhere. */
export class SubmitKey {
  private last: { request: string; key: string } | null = null;

  constructor(private readonly make: () => string = newIdempotencyKey) {}

  /** The key for this request: the previous one if it is the same request and its outcome is unknown (or still pending). */
  keyFor(method: Method, path: string, body?: unknown): string {
    const request = fingerprint(method, path, body);
    if (!this.last || this.last.request !== request) this.last = { request, key: this.make() };
    return this.last.key;
  }

  /** A fresh key for a request that cannot be compared (a raw body): never reused. */
  private fresh(): string {
    this.last = null;
    return this.make();
  }

  /** Records the outcome of the request sent with `key`: nothing (success) or what it threw. */
  settle(key: string, error?: unknown): void {
    if (this.last?.key !== key) return; // a newer request took over meanwhile
    if (error === undefined || !outcomeUnknown(error)) this.last = null;
  }

  /** Sends the request with its key (`api.post/put/patch/delete`) and settles it; rethrows failures. */
  async send<T>(method: Method, path: string, opts: Omit<SendOptions, "idempotencyKey"> = {}): Promise<T> {
    const body = opts.searchParams === undefined ? opts.json : { json: opts.json, query: opts.searchParams };
    const key = opts.body === undefined ? this.keyFor(method, path, body) : this.fresh();
    const call = { POST: api.post, PUT: api.put, PATCH: api.patch, DELETE: api.delete }[method];
    try {
      const result = await call<T>(path, { ...opts, idempotencyKey: key });
      this.settle(key);
      return result;
    } catch (error) {
      this.settle(key, error);
      throw error;
    }
  }
}

/** One SubmitKey for the component's lifetime (one per form). */
export function useSubmitKey(): SubmitKey {
  const [keys] = useState(() => new SubmitKey());
  return keys;
}
