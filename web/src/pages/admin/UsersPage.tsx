import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function UsersPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.users"));
  return (
    <section>
      <h1>{t("titles.users")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
