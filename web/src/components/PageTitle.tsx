import { useEffect } from "react";
import { useTranslation } from "react-i18next";

/** Sets document.title to "<title> · SnapFix". Pages that know a better title (an issue's) render their own. */
export function usePageTitle(title: string | undefined): void {
  const { t } = useTranslation();
  const app = t("appName");
  useEffect(() => {
    document.title = title ? `${title} · ${app}` : app;
  }, [title, app]);
}
