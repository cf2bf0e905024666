import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function MyReportsPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.myReports"));
  return (
    <section>
      <h1>{t("titles.myReports")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
