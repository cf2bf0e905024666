import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function PasswordResetPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.passwordReset"));
  return (
    <section>
      <h1>{t("titles.passwordReset")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
