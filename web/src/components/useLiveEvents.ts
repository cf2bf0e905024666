/**
 * Live updates from GET /v1/events (SSE, with the Bearer token, so not EventSource):
 *
 *   useLiveEvents((e) => { if (e.event === "status_changed") ... e.data.issue_id ... });
 *
 * Events: `status_changed` {issue_id, from, to, note}, `comment`, `report_rejected` {reason...}.
 * Reconnects with backoff (doubling, capped at 30 s, jittered; never two immediate retries in a row) and
 * `Last-Event-ID` (kept across reconnects and token refreshes), refreshes the access token on a 401, and
 * stops only when the session has ended (no refresh token), the user signs out or the component unmounts:
 * a refresh that fails for a network error or a 5xx is retried later.
 */
import { fetchEventSource, type EventSourceMessage } from "@microsoft/fetch-event-source";
import { useEffect, useRef, useState } from "react";
import { absolute, refreshAccessToken } from "../api/client";
import { getAccessToken, getRefreshToken } from "../api/tokens";
import { useSession } from "../auth/session";

export interface LiveEvent<T = Record<string, unknown>> {
  id: string;
  event: string;
  data: T;
}

class Reconnect extends Error {
  constructor(readonly delayMs?: number) {
    super("reconnect");
  }
}
class Unauthorized extends Error {}
class Fatal extends Error {}

const MAX_DELAY = 30_000;

export interface LiveOptions {
  /** For tests: the fetch to use. */
  fetch?: typeof fetch;
  /** The first reconnect delay (doubles up to 30 s). */
  baseDelayMs?: number;
  /** For tests: how to wait (gets the jittered delay in ms). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Equal jitter: between half the delay and the whole of it, so tabs do not reconnect in step. */
export function jittered(ms: number, random: () => number = Math.random): number {
  return Math.round(ms / 2 + (random() * ms) / 2);
}

/** The connection loop, usable without React. Resolves when `signal` aborts or the session ends. */
export async function runLiveEvents(
  onEvent: (e: LiveEvent) => void,
  onState: (connected: boolean) => void,
  signal: AbortSignal,
  options: LiveOptions = {},
): Promise<void> {
  let lastEventId: string | undefined;
  const baseDelay = options.baseDelayMs ?? 1000;
  let delay = baseDelay;
  /** The last retry went out at once (after a 400 or a refreshed token): the next one must wait. */
  let lastImmediate = false;
  const wait =
    options.sleep ??
    ((ms: number, s: AbortSignal) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        s.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
      }));
  /** Waits before the next attempt: `ms` when the server said so, else the backoff (then doubled). */
  const backOff = async (ms?: number) => {
    const immediate = ms === 0 && !lastImmediate;
    let waitMs: number;
    if (immediate) waitMs = 0;
    else if (ms !== undefined && ms > 0) waitMs = ms;
    else {
      waitMs = jittered(delay);
      delay = Math.min(delay * 2, MAX_DELAY);
    }
    lastImmediate = immediate;
    if (waitMs > 0) await wait(waitMs, signal);
  };

  while (!signal.aborted) {
    const token = getAccessToken() ?? (await refreshAccessToken());
    if (signal.aborted) return;
    if (!token) {
      if (!getRefreshToken()) return; // the session ended
      await backOff(); // the server could not be reached: try again later
      continue;
    }
    try {
      const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: "text/event-stream" };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      await fetchEventSource(absolute("/v1/events"), {
        signal,
        headers,
        openWhenHidden: true,
        fetch: options.fetch,
        async onopen(response) {
          if (response.ok && (response.headers.get("content-type") ?? "").includes("text/event-stream")) {
            onState(true);
            delay = baseDelay;
            lastImmediate = false;
            return;
          }
          if (response.status === 401) throw new Unauthorized();
          if (response.status === 400) {
            lastEventId = undefined; // an id the stream no longer knows: start afresh
            throw new Reconnect(0);
          }
          const retryAfter = Number(response.headers.get("retry-after"));
          if (response.status === 429 || response.status >= 500) {
            throw new Reconnect(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
          }
          throw new Fatal(`HTTP ${response.status}`);
        },
        onmessage(message: EventSourceMessage) {
          if (message.id) lastEventId = message.id;
          if (!message.event && !message.data) return;
          let data: unknown = message.data;
          try {
            data = JSON.parse(message.data);
          } catch {
            // plain text data
          }
          onEvent({ id: message.id, event: message.event || "message", data: data as Record<string, unknown> });
        },
        onclose() {
          throw new Reconnect();
        },
        onerror(error: unknown) {
          throw error; // handled by the loop below
        },
      });
      return; // aborted
    } catch (error) {
      onState(false);
      if (signal.aborted || error instanceof Fatal) return;
      if (error instanceof Unauthorized) {
        const refreshed = await refreshAccessToken();
        if (!refreshed && !getRefreshToken()) return; // the session ended
        await backOff(refreshed ? 0 : undefined); // at once with a new token, unless the last retry was at once
        continue;
      }
      await backOff(error instanceof Reconnect ? error.delayMs : undefined);
    }
  }
}

export function useLiveEvents(onEvent: (e: LiveEvent) => void, options: LiveOptions & { enabled?: boolean } = {}) {
  const { status } = useSession();
  const [connected, setConnected] = useState(false);
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const enabled = (options.enabled ?? true) && status === "signedIn";
  const { fetch: fetchImpl, baseDelayMs, sleep } = options;

  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    void runLiveEvents((e) => handler.current(e), setConnected, controller.signal, { fetch: fetchImpl, baseDelayMs, sleep });
    return () => {
      controller.abort();
      setConnected(false);
    };
  }, [enabled, fetchImpl, baseDelayMs, sleep]);

  return { connected };
}
