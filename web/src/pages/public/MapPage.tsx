import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function MapPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.map"));
  return (
    <section>
      <h1>{t("titles.map")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
