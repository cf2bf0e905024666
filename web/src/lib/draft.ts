/**
 * Keeps a form's values in sessionStorage, so nothing typed is lost on a failed submit or a reload.
 *
 *   const [values, setValues, clearDraft] = useDraft("report", { title: "", description: "" });
 *   ... on success: clearDraft();
 *
 * Never put passwords or files in a draft.
 */
import { useCallback, useEffect, useRef, useState } from "react";

const PREFIX = "snapfix.draft.";

export function loadDraft<T extends object>(key: string, initial: T): T {
  try {
    const raw = sessionStorage.getItem(PREFIX + key);
    if (!raw) return initial;
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return initial;
    // Only the keys the form knows, so an old draft cannot inject fields.
    const out = { ...initial };
    for (const k of Object.keys(initial) as (keyof T)[]) {
      const v = (parsed as Record<string, unknown>)[k as string];
      if (v !== undefined && typeof v === typeof initial[k]) out[k] = v as T[keyof T];
    }
    return out;
  } catch {
    return initial;
  }
}

export function saveDraft<T extends object>(key: string, values: T): void {
  try {
    sessionStorage.setItem(PREFIX + key, JSON.stringify(values));
  } catch {
    // full or disabled storage: the draft lives only in memory
  }
}

export function clearDraft(key: string): void {
  try {
    sessionStorage.removeItem(PREFIX + key);
  } catch {
    // nothing to clear
  }
}

export function useDraft<T extends object>(
  key: string,
  initial: T,
): [T, (update: T | ((prev: T) => T)) => void, () => void] {
  const initialRef = useRef(initial);
  const [values, setValues] = useState<T>(() => loadDraft(key, initial));
  useEffect(() => {
    if (values === initialRef.current) clearDraft(key);
    else saveDraft(key, values);
  }, [key, values]);
  const clear = useCallback(() => {
    clearDraft(key);
    setValues(initialRef.current);
  }, [key]);
  return [values, setValues, clear];
}
