import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function SignUpPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.signup"));
  return (
    <section>
      <h1>{t("titles.signup")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
