import { useCallback, useRef, useState } from "react";
import { newIdempotencyKey } from "../../../api/client";

/**
 * One idempotent submit: ONE Idempotency-Key kept across the user's retries of the same
 * request (same `what`), replaced once it succeeds or when the request itself changes
 * (the API refuses a key reused for another request); the last error; whether it runs.
 */
export function useAction() {
  const last = useRef<{ key: string; what: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async <T,>(what: unknown, send: (idempotencyKey: string) => Promise<T>): Promise<T | undefined> => {
    const fingerprint = JSON.stringify(what);
    if (!last.current || last.current.what !== fingerprint) last.current = { key: newIdempotencyKey(), what: fingerprint };
    setBusy(true);
    setError(null);
    try {
      const result = await send(last.current.key);
      last.current = null;
      return result;
    } catch (e) {
      setError(e); // the same key on a retry of the same request
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { run, error, setError, busy };
}
