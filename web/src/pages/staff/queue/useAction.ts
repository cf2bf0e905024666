import { useCallback, useState } from "react";
import { useSubmitKey, type Method } from "../../../api/submitKey";

/**
 * One idempotent action of a page (status, assignment, comment): its Idempotency-Key follows
 * api/submitKey.ts (kept only for the same request after an unknown outcome), its last error,
 * whether it runs. `run()` resolves to the answer, or undefined after a failure (then in `error`).
 */
export function useAction() {
  const keys = useSubmitKey();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(
    async <T,>(method: Method, path: string, json?: unknown): Promise<T | undefined> => {
      setBusy(true);
      setError(null);
      try {
        return await keys.send<T>(method, path, { json });
      } catch (e) {
        setError(e);
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [keys],
  );
  return { run, error, setError, busy };
}
