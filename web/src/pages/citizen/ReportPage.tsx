import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function ReportPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.report"));
  return (
    <section>
      <h1>{t("titles.report")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
