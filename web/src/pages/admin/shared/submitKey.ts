import { useState } from "react";
import { newIdempotencyKey } from "../../../api/client";

/**
 * One Idempotency-Key per logical submit: the same request sent again (the user retries after a
 * failure) reuses its key; a different request (another target, or the form changed after a 4xx,
 * whose answer the gateway keeps under the old key) gets a new one; `done()` after a success.
 */
export interface SubmitKey {
  keyFor(request: unknown): string;
  done(): void;
}

export function submitKey(make: () => string = newIdempotencyKey): SubmitKey {
  let last: { request: string; key: string } | null = null;
  return {
    keyFor(request) {
      const text = JSON.stringify(request ?? null);
      if (!last || last.request !== text) last = { request: text, key: make() };
      return last.key;
    },
    done() {
      last = null;
    },
  };
}

export function useSubmitKey(): SubmitKey {
  const [keys] = useState(() => submitKey());
  return keys;
}
