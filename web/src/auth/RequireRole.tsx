import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useTranslation } from "react-i18next";
import type { Role } from "../api/types";
import { Loading } from "../components/Loading";
import { useSession } from "./session";

/**
 * Route guard: renders children for a signed-in user with one of `roles` (any signed-in user when
 * omitted); sends a signed-out visitor to /signin?next=<here>; tells a signed-in user without the role.
 */
export function RequireRole({ roles, children }: { roles?: Role[]; children: ReactNode }) {
  const { status, user } = useSession();
  const location = useLocation();
  const { t } = useTranslation();
  if (status === "loading") return <Loading />;
  if (!user) {
    const next = location.pathname + location.search + location.hash;
    return <Navigate to={`/signin?next=${encodeURIComponent(next)}`} replace />;
  }
  if (roles && !roles.includes(user.role)) {
    return (
      <div role="alert" className="problem">
        <p>{t("errors.forbidden")}</p>
      </div>
    );
  }
  return <>{children}</>;
}

/** Where to go after sign-in: the `next` query parameter when it is a path on this site, else `/`. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  return next;
}
