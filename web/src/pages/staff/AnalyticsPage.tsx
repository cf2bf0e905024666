import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function AnalyticsPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.analytics"));
  return (
    <section>
      <h1>{t("titles.analytics")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
