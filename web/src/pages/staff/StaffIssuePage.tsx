import { useTranslation } from "react-i18next";
import { usePageTitle } from "../../components/PageTitle";

/** Placeholder: replace with the screen. */
export default function StaffIssuePage() {
  const { t } = useTranslation();
  usePageTitle(t("titles.staffIssue"));
  return (
    <section>
      <h1>{t("titles.staffIssue")}</h1>
      <p>{t("coming")}</p>
    </section>
  );
}
