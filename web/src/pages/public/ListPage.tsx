import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function ListPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.list"));
  return (
    <section>
      <h1>{t("titles.list")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
