/**
 * The signed-in user. Wrap the app in <SessionProvider>; read it with useSession().
 * The access token lives in memory, the refresh token in localStorage (see ../api/tokens.ts):
 * on page load the provider exchanges the refresh token for a new access token (unless another tab
 * left a fresh one), then GETs /v1/me. When that fails because SnapFix cannot be reached (network
 * error, timeout, 429, 5xx) while the refresh token is kept, the status is "unreachable", not
 * "signedOut": guarded pages offer to retry instead of sending the user to sign in again, and the provider
 * retries by itself (after 3 s, then doubling up to 30 s, and at once when the browser comes back online).
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, ProblemError, refreshAccessToken, requestToken } from "../api/client";
import { clearTokens, getAccessToken, getRefreshToken, onTokensCleared } from "../api/tokens";
import type { Role, UserView } from "../api/types";

const UNREACHABLE_RETRY_FIRST_MS = 3_000;
const UNREACHABLE_RETRY_MAX_MS = 30_000;

export type SessionStatus = "loading" | "signedIn" | "signedOut" | "unreachable";

/** A failure that says nothing about the session: the server was not reached or could not answer. */
export function isUnreachable(error: unknown): boolean {
  return error instanceof ProblemError && (error.status === 0 || error.status === 429 || error.status >= 500);
}

export interface Session {
  status: SessionStatus;
  user: UserView | null;
  /** POST /v1/auth/token (grant_type=password) then GET /v1/me. Rejects with a ProblemError. */
  signIn(email: string, password: string): Promise<UserView>;
  /** POST /v1/auth/logout (best effort) and forget the tokens. */
  signOut(): Promise<void>;
  /** GET /v1/me again (after a profile change or an e-mail verification, or to retry when unreachable). */
  reload(): Promise<UserView | null>;
  hasRole(...roles: Role[]): boolean;
}

export const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<UserView | null>(null);
  const [status, setStatus] = useState<SessionStatus>(() => (getRefreshToken() ? "loading" : "signedOut"));

  const reload = useCallback(async () => {
    setStatus((s) => (s === "unreachable" ? "loading" : s));
    const unreachable = () => {
      setUser(null);
      setStatus("unreachable");
      return null;
    };
    const signedOut = () => {
      setUser(null);
      setStatus("signedOut");
      return null;
    };
    if (!getAccessToken() && !(await refreshAccessToken())) {
      // A refused refresh token is cleared; one kept means the server could not be asked.
      return getRefreshToken() ? unreachable() : signedOut();
    }
    try {
      const me = await api.get<UserView>("/v1/me");
      setUser(me);
      setStatus("signedIn");
      return me;
    } catch (error) {
      return isUnreachable(error) && getRefreshToken() ? unreachable() : signedOut();
    }
  }, []);

  // Unreachable: try again by itself, backing off, and at once when the browser is back online.
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (status !== "unreachable") {
      if (status === "signedIn" || status === "signedOut") setAttempt(0);
      return;
    }
    const delay = Math.min(UNREACHABLE_RETRY_MAX_MS, UNREACHABLE_RETRY_FIRST_MS * 2 ** attempt);
    const retry = () => {
      setAttempt((n) => n + 1);
      void reload();
    };
    const timer = setTimeout(retry, delay);
    window.addEventListener("online", retry);
    return () => {
      clearTimeout(timer);
      window.removeEventListener("online", retry);
    };
  }, [status, attempt, reload]);

  useEffect(() => {
    if (getRefreshToken()) void reload();
    return onTokensCleared(() => {
      setUser(null);
      setStatus("signedOut");
    });
  }, [reload]);

  const signIn = useCallback(async (email: string, password: string) => {
    await requestToken({ grant_type: "password", username: email, password });
    const me = await api.get<UserView>("/v1/me");
    setUser(me);
    setStatus("signedIn");
    return me;
  }, []);

  const signOut = useCallback(async () => {
    try {
      if (getAccessToken()) await api.post("/v1/auth/logout");
    } catch {
      // the tokens are forgotten anyway
    } finally {
      clearTokens();
      setUser(null);
      setStatus("signedOut");
    }
  }, []);

  const value = useMemo<Session>(
    () => ({
      status,
      user,
      signIn,
      signOut,
      reload,
      hasRole: (...roles: Role[]) => user !== null && roles.includes(user.role),
    }),
    [status, user, signIn, signOut, reload],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession() outside <SessionProvider>");
  return session;
}
