import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function ApiKeysPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.apiKeys"));
  return (
    <section>
      <h1>{t("titles.apiKeys")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
