/**
 * Where the session's tokens live: the access token in memory only, the refresh token in
 * localStorage so a reload can sign back in. The session provider and the API client share this.
 */
const REFRESH_KEY = "snapfix.refresh_token";

let accessToken: string | null = null;
const listeners = new Set<() => void>();

export function getAccessToken(): string | null {
  return accessToken;
}

export function getRefreshToken(): string | null {
  try {
    return localStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

export function setTokens(access: string, refresh: string): void {
  accessToken = access;
  try {
    localStorage.setItem(REFRESH_KEY, refresh);
  } catch {
    // Storage disabled: the session lasts as long as the page.
  }
}

export function clearTokens(): void {
  const had = accessToken !== null || getRefreshToken() !== null;
  accessToken = null;
  try {
    localStorage.removeItem(REFRESH_KEY);
  } catch {
    // nothing stored
  }
  if (had) listeners.forEach((fn) => fn());
}

/** Called when the tokens are cleared (a refresh failed, or sign-out): the session provider listens. */
export function onTokensCleared(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
