import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function QueuePage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.queue"));
  return (
    <section>
      <h1>{t("titles.queue")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
