import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function UnsubscribePage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.unsubscribe"));
  return (
    <section>
      <h1>{t("titles.unsubscribe")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
