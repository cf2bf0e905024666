import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function WebhooksPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.webhooks"));
  return (
    <section>
      <h1>{t("titles.webhooks")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
