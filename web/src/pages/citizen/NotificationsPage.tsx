import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function NotificationsPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.notifications"));
  return (
    <section>
      <h1>{t("titles.notifications")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
