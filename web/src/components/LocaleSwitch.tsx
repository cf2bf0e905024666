import { useTranslation } from "react-i18next";
import { currentLocale, isLocale, LOCALE_NAMES, LOCALES, setLocale } from "../i18n";

/** The language picker in the header: remembered in localStorage, sets <html lang>. */
export function LocaleSwitch() {
  const { t, i18n } = useTranslation();
  const value = isLocale(i18n.resolvedLanguage) ? i18n.resolvedLanguage : currentLocale();
  return (
    <label className="locale-switch">
      <span className="visually-hidden">{t("language")}</span>
      <select value={value} onChange={(e) => isLocale(e.target.value) && void setLocale(e.target.value)}>
        {LOCALES.map((l) => (
          <option key={l} value={l} lang={l}>
            {LOCALE_NAMES[l]}
          </option>
        ))}
      </select>
    </label>
  );
}
