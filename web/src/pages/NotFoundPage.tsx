import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { usePageTitle } from "../components/PageTitle";

export default function NotFoundPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.notFound"));
  return (
    <section>
      <h1>{t("titles.notFound")}</h1>
      <p>{t("errors.notFoundPage")}</p>
      <p>
        <Link to="/">{t("errors.goHome")}</Link>
      </p>
    </section>
  );
}
