/**
 * The signed-in user. Wrap the app in <SessionProvider>; read it with useSession().
 * The access token lives in memory, the refresh token in localStorage (see ../api/tokens.ts):
 * on page load the provider exchanges the refresh token for a new access token, then GETs /v1/me.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, refreshAccessToken, requestToken } from "../api/client";
import { clearTokens, getAccessToken, getRefreshToken, onTokensCleared } from "../api/tokens";
import type { Role, UserView } from "../api/types";

export type SessionStatus = "loading" | "signedIn" | "signedOut";

export interface Session {
  status: SessionStatus;
  user: UserView | null;
  /** POST /v1/auth/token (grant_type=password) then GET /v1/me. Rejects with a ProblemError. */
  signIn(email: string, password: string): Promise<UserView>;
  /** POST /v1/auth/logout (best effort) and forget the tokens. */
  signOut(): Promise<void>;
  /** GET /v1/me again (after a profile change or an e-mail verification). */
  reload(): Promise<UserView | null>;
  hasRole(...roles: Role[]): boolean;
}

export const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<UserView | null>(null);
  const [status, setStatus] = useState<SessionStatus>(() => (getRefreshToken() ? "loading" : "signedOut"));

  const reload = useCallback(async () => {
    if (!getAccessToken() && !(await refreshAccessToken())) {
      setUser(null);
      setStatus("signedOut");
      return null;
    }
    try {
      const me = await api.get<UserView>("/v1/me");
      setUser(me);
      setStatus("signedIn");
      return me;
    } catch {
      setUser(null);
      setStatus("signedOut");
      return null;
    }
  }, []);

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
