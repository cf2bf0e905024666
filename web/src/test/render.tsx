/**
 * Test helpers: render a component (or a route) with i18n, a router and a given session.
 *
 *   renderPage(<QueuePage />, { user: staffUser, path: "/staff", route: "/staff?status=open" });
 */
import { render, type RenderResult } from "@testing-library/react";
import type { ReactElement } from "react";
import { createMemoryRouter, RouterProvider, type RouteObject } from "react-router";
import type { Role, UserView } from "../api/types";
import { SessionContext, type Session } from "../auth/session";

export function makeUser(role: Role = "citizen", extra: Partial<UserView> = {}): UserView {
  return {
    id: "00000000-0000-4000-8000-000000000001",
    email: `${role}@example.org`,
    display_name: `Test ${role}`,
    role,
    departments: role === "citizen" ? [] : ["roads"],
    email_verified: true,
    created_at: "2026-01-01T00:00:00Z",
    ...extra,
  };
}

export function fakeSession(user: UserView | null, overrides: Partial<Session> = {}): Session {
  return {
    status: user ? "signedIn" : "signedOut",
    user,
    signIn: async () => {
      throw new Error("signIn not faked");
    },
    signOut: async () => undefined,
    reload: async () => user,
    hasRole: (...roles) => user !== null && roles.includes(user.role),
    ...overrides,
  };
}

export function renderPage(
  ui: ReactElement,
  {
    user = null,
    path = "/",
    route = path,
    session,
    extraRoutes = [],
  }: { user?: UserView | null; path?: string; route?: string; session?: Session; extraRoutes?: RouteObject[] } = {},
): RenderResult & { router: ReturnType<typeof createMemoryRouter> } {
  const router = createMemoryRouter(
    [{ path, element: ui }, { path: "/signin", element: <p>signin page</p> }, ...extraRoutes],
    { initialEntries: [route] },
  );
  const result = render(
    <SessionContext.Provider value={session ?? fakeSession(user)}>
      <RouterProvider router={router} />
    </SessionContext.Provider>,
  );
  return { ...result, router };
}
