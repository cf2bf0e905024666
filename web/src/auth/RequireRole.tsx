import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useTranslation } from "react-i18next";
import type { Role } from "../api/types";
import { Loading } from "../components/Loading";
import { useSession } from "./session";

/**
 * Route guard: renders children for a signed-in user with one of `roles` (any signed-in user when
 * omitted); sends a signed-out visitor to /signin?next=<here>; tells a signed-in user without the role;
 * when the session could not be loaded (SnapFix unreachable), says so and offers to retry.
 */
export function RequireRole({ roles, children }: { roles?: Role[]; children: ReactNode }) {
  const { status, user, reload } = useSession();
  const location = useLocation();
  const { t } = useTranslation();
  if (status === "loading") return <Loading />;
  if (status === "unreachable") {
    return (
      <div role="alert" className="problem">
        <p className="problem-title">
          <span aria-hidden="true">⚠ </span>
          {t("errors.unreachable")}
        </p>
        <button type="button" onClick={() => void reload()}>
          {t("buttons.retry")}
        </button>
      </div>
    );
  }
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

/**
 * Where to go after sign-in: the `next` query parameter when it is a path on this site, else `/`.
 * It is resolved as the browser would (tabs and newlines dropped, a backslash read as a slash) and kept only when
 * it stays on this origin; what is returned is the normalised path, query and fragment.
 */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/")) return "/";
  const origin = globalThis.location?.origin && globalThis.location.origin !== "null" ? globalThis.location.origin : "http://localhost";
  let url: URL;
  try {
    url = new URL(next, origin);
  } catch {
    return "/";
  }
  if (url.origin !== origin) return "/";
  const path = url.pathname + url.search + url.hash;
  // A path that starts with "//" would be read as another host by the next navigation.
  return path.startsWith("//") || path.startsWith("/\\") ? "/" : path;
}
