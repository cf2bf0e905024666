import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function VerifyEmailPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.verifyEmail"));
  return (
    <section>
      <h1>{t("titles.verifyEmail")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
