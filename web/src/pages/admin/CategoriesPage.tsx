import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function CategoriesPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.categories"));
  return (
    <section>
      <h1>{t("titles.categories")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
