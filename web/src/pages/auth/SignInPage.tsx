import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function SignInPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.signin"));
  return (
    <section>
      <h1>{t("titles.signin")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
