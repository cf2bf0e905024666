import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function SettingsPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.settings"));
  return (
    <section>
      <h1>{t("titles.settings")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
