import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function FollowingPage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.following"));
  return (
    <section>
      <h1>{t("titles.following")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
