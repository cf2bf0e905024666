import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function IssuePage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.issue"));
  return (
    <section>
      <h1>{t("titles.issue")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
