/**
 * Where the session's tokens live, shared by every tab of this site:
 *
 * - the refresh token in localStorage, so a reload (or another tab) can sign back in;
 * - the access token and its expiry in localStorage too, so a tab opened next to a signed-in one uses
 *   the same access token instead of refreshing again (the refresh token is stored there already, so
 *   this exposes nothing new), with a copy in memory when storage is disabled.
 *
 * The server rotates the refresh token on every use and ends the whole session when a rotated one is
 * presented again, so only one tab may refresh at a time (see refreshAccessToken in ./client.ts).
 * The session provider and the API client share this module.
 */
const REFRESH_KEY = "snapfix.refresh_token";
const ACCESS_KEY = "snapfix.access_token";
/** An access token this close to its expiry counts as expired (clock skew, the request's own time). */
const EXPIRY_MARGIN_MS = 15_000;

interface StoredAccess {
  token: string;
  /** Epoch milliseconds; null when the server did not say. */
  expiresAt: number | null;
}

let memory: StoredAccess | null = null;
const listeners = new Set<() => void>();

function fresh(access: StoredAccess | null): string | null {
  if (!access) return null;
  if (access.expiresAt !== null && access.expiresAt - EXPIRY_MARGIN_MS <= Date.now()) return null;
  return access.token;
}

function readShared(): StoredAccess | null {
  try {
    const raw = localStorage.getItem(ACCESS_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<StoredAccess>;
    if (typeof parsed.token !== "string") return null;
    return { token: parsed.token, expiresAt: typeof parsed.expiresAt === "number" ? parsed.expiresAt : null };
  } catch {
    return null;
  }
}

/** The current access token (this tab's or one another tab stored), or null when none is still valid. */
export function getAccessToken(): string | null {
  return fresh(readShared()) ?? fresh(memory);
}

export function getRefreshToken(): string | null {
  try {
    return localStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

/** Stores a token response; `expiresInS` is its `expires_in`. */
export function setTokens(access: string, refresh: string, expiresInS?: number): void {
  memory = { token: access, expiresAt: typeof expiresInS === "number" ? Date.now() + expiresInS * 1000 : null };
  try {
    localStorage.setItem(ACCESS_KEY, JSON.stringify(memory));
    localStorage.setItem(REFRESH_KEY, refresh);
  } catch {
    // Storage disabled: the session lasts as long as the page.
  }
}

function notifyCleared(): void {
  listeners.forEach((fn) => fn());
}

export function clearTokens(): void {
  const had = memory !== null || getRefreshToken() !== null || readShared() !== null;
  memory = null;
  try {
    localStorage.removeItem(ACCESS_KEY);
    localStorage.removeItem(REFRESH_KEY);
  } catch {
    // nothing stored
  }
  if (had) notifyCleared();
}

/** Another tab signed out (or its refresh was refused): this tab forgets its copy too. */
function onStorage(event: StorageEvent): void {
  const removed = (event.key === REFRESH_KEY && event.newValue === null) || (event.key === null && getRefreshToken() === null);
  if (!removed) return;
  memory = null;
  notifyCleared();
}
if (typeof window !== "undefined") window.addEventListener("storage", onStorage);

/** Called when the tokens are cleared (a refresh failed, or sign-out, here or in another tab). */
export function onTokensCleared(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
