/**
 * The route table. Every screen is its own lazily loaded file under ./pages/<area>/ with a
 * default export; guarded areas are wrapped in <RequireRole>. Screens fill their files; only
 * add a route here for a NEW screen.
 */
import type { ComponentType } from "react";
import { createBrowserRouter, type RouteObject } from "react-router";
import type { Role } from "./api/types";
import { RequireRole } from "./auth/RequireRole";
import { Layout } from "./Layout";
import { RouteError } from "./RouteError";

type PageModule = { default: ComponentType };

function page(load: () => Promise<PageModule>, roles?: Role[] | "signedIn"): Pick<RouteObject, "lazy"> {
  return {
    lazy: async () => {
      const { default: Page } = await load();
      if (!roles) return { Component: Page };
      const guard = roles === "signedIn" ? undefined : roles;
      return {
        Component: () => (
          <RequireRole roles={guard}>
            <Page />
          </RequireRole>
        ),
      };
    },
  };
}

const STAFF: Role[] = ["staff", "admin"];
const ADMIN: Role[] = ["admin"];

export const routes: RouteObject[] = [
  {
    path: "/",
    element: <Layout />,
    errorElement: <RouteError />,
    children: [
      // public
      { index: true, ...page(() => import("./pages/public/MapPage")) },
      { path: "list", ...page(() => import("./pages/public/ListPage")) },
      { path: "issues/:id", ...page(() => import("./pages/public/IssuePage")) },
      // accounts and the landing pages of e-mailed links (tokens come in the query string)
      { path: "signin", ...page(() => import("./pages/auth/SignInPage")) },
      { path: "signup", ...page(() => import("./pages/auth/SignUpPage")) },
      { path: "password-reset", ...page(() => import("./pages/auth/PasswordResetPage")) },
      { path: "verify-email", ...page(() => import("./pages/auth/VerifyEmailPage")) },
      { path: "unsubscribe", ...page(() => import("./pages/auth/UnsubscribePage")) },
      // citizen (any signed-in user)
      { path: "report", ...page(() => import("./pages/citizen/ReportPage"), "signedIn") },
      { path: "me/reports", ...page(() => import("./pages/citizen/MyReportsPage"), "signedIn") },
      { path: "me/following", ...page(() => import("./pages/citizen/FollowingPage"), "signedIn") },
      { path: "me/notifications", ...page(() => import("./pages/citizen/NotificationsPage"), "signedIn") },
      { path: "me/settings", ...page(() => import("./pages/citizen/SettingsPage"), "signedIn") },
      // staff
      { path: "staff", ...page(() => import("./pages/staff/QueuePage"), STAFF) },
      { path: "staff/issues/:id", ...page(() => import("./pages/staff/StaffIssuePage"), STAFF) },
      { path: "staff/analytics", ...page(() => import("./pages/staff/AnalyticsPage"), STAFF) },
      // admin
      { path: "admin/categories", ...page(() => import("./pages/admin/CategoriesPage"), ADMIN) },
      { path: "admin/users", ...page(() => import("./pages/admin/UsersPage"), ADMIN) },
      { path: "admin/api-keys", ...page(() => import("./pages/admin/ApiKeysPage"), ADMIN) },
      { path: "admin/webhooks", ...page(() => import("./pages/admin/WebhooksPage"), ADMIN) },
      { path: "*", ...page(() => import("./pages/NotFoundPage")) },
    ],
  },
];

export function createAppRouter() {
  return createBrowserRouter(routes);
}
