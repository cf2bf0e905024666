import { Suspense, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, NavLink, Outlet, useLocation, useNavigate } from "react-router";
import type { Role } from "./api/types";
import { useSession } from "./auth/session";
import { Loading } from "./components/Loading";
import { LocaleSwitch } from "./components/LocaleSwitch";

interface NavItem {
  to: string;
  label: string; // key in common
  end?: boolean;
}

const PUBLIC_NAV: NavItem[] = [
  { to: "/", label: "nav.map", end: true },
  { to: "/list", label: "nav.list" },
];
const CITIZEN_NAV: NavItem[] = [
  { to: "/report", label: "nav.report" },
  { to: "/me/reports", label: "nav.myReports" },
  { to: "/me/following", label: "nav.following" },
  { to: "/me/notifications", label: "nav.notifications" },
  { to: "/me/settings", label: "nav.settings" },
];
const STAFF_NAV: NavItem[] = [
  { to: "/staff", label: "nav.queue", end: true },
  { to: "/staff/analytics", label: "nav.analytics" },
];
const ADMIN_NAV: NavItem[] = [
  { to: "/admin/categories", label: "nav.categories" },
  { to: "/admin/users", label: "nav.users" },
  { to: "/admin/api-keys", label: "nav.apiKeys" },
  { to: "/admin/webhooks", label: "nav.webhooks" },
];

/** The links a user of this role sees (null: signed out). */
export function navFor(role: Role | null): NavItem[] {
  if (!role) return PUBLIC_NAV;
  const items = [...PUBLIC_NAV, ...CITIZEN_NAV];
  if (role === "staff" || role === "admin") items.push(...STAFF_NAV);
  if (role === "admin") items.push(...ADMIN_NAV);
  return items;
}

export function Layout() {
  const { t } = useTranslation();
  const { user, status, signOut } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  const [menuOpen, setMenuOpen] = useState(false);

  // After a navigation, move focus to the content so keyboard and screen-reader users start there.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    setMenuOpen(false);
    main.current?.focus();
  }, [location.pathname]);

  const next = encodeURIComponent(location.pathname + location.search);
  return (
    <>
      <a className="skip-link" href="#main">
        {t("skipToContent")}
      </a>
      <header className="site-header">
        <div className="container header-row">
          <Link to="/" className="brand">
            <svg className="brand-pin" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
              <path fill="currentColor" d="M12 2a7 7 0 0 0-7 7c0 5.25 7 13 7 13s7-7.75 7-13a7 7 0 0 0-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z" />
            </svg>
            {t("appName")}
          </Link>
          <button
            type="button"
            className="menu-toggle"
            aria-expanded={menuOpen}
            aria-controls="site-nav"
            onClick={() => setMenuOpen((o) => !o)}
          >
            <span aria-hidden="true">☰ </span>
            {t("nav.menu")}
          </button>
          <nav id="site-nav" aria-label={t("nav.label")} className={menuOpen ? "site-nav open" : "site-nav"}>
            <ul className="nav-list">
              {navFor(user?.role ?? null).map((item) => (
                <li key={item.to}>
                  <NavLink to={item.to} end={item.end}>
                    {t(item.label)}
                  </NavLink>
                </li>
              ))}
            </ul>
          </nav>
          <div className="header-tools">
            <LocaleSwitch />
            {user ? (
              <>
                <span className="who">{t("nav.signedInAs", { name: user.display_name })}</span>
                <button
                  type="button"
                  onClick={() => {
                    void signOut().then(() => navigate("/"));
                  }}
                >
                  {t("nav.signOut")}
                </button>
              </>
            ) : status === "signedOut" ? (
              <>
                <Link to={`/signin?next=${next}`}>{t("nav.signIn")}</Link>
                <Link to="/signup">{t("nav.signUp")}</Link>
              </>
            ) : null}
          </div>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1} className="container">
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </main>
    </>
  );
}
