import { useTranslation } from "react-i18next";
import { Link, useRouteError } from "react-router";

/** Shown when a page fails to load or render (for instance a lazy chunk after a deploy). */
export function RouteError() {
  const error = useRouteError();
  const { t } = useTranslation();
  console.error(error);
  return (
    <main id="main" className="container">
      <div role="alert" className="problem">
        <h1>{t("errors.title")}</h1>
        <p>{error instanceof Error ? error.message : t("errors.server")}</p>
        <p>
          <a href={window.location.href}>{t("buttons.retry")}</a> · <Link to="/">{t("errors.goHome")}</Link>
        </p>
      </div>
    </main>
  );
}
