/**
 * i18next with English and Hindi. Each feature owns a namespace: add
 * `locales/en/<ns>.json` and `locales/hi/<ns>.json` and use `useTranslation("<ns>")`.
 * Nothing else to register: the files are found by import.meta.glob.
 */
import i18n from "i18next";
import { initReactI18next } from "react-i18next";

export const LOCALES = ["en", "hi"] as const;
export type Locale = (typeof LOCALES)[number];
export const LOCALE_NAMES: Record<Locale, string> = { en: "English", hi: "हिन्दी" };
/** The Intl locale used for numbers and dates. */
export const INTL_LOCALE: Record<Locale, string> = { en: "en-IN", hi: "hi-IN" };
const STORAGE_KEY = "snapfix.locale";

type Resources = Record<string, Record<string, Record<string, unknown>>>;

const files = import.meta.glob<{ default: Record<string, unknown> }>("./locales/*/*.json", { eager: true });

export function buildResources(modules: Record<string, { default: Record<string, unknown> }>): Resources {
  const resources: Resources = {};
  for (const [path, mod] of Object.entries(modules)) {
    const match = /\/locales\/([^/]+)\/([^/]+)\.json$/.exec(path);
    if (!match) continue;
    const [, lng, ns] = match as unknown as [string, string, string];
    (resources[lng] ??= {})[ns] = mod.default;
  }
  return resources;
}

export const resources = buildResources(files);
export const namespaces = Object.keys(resources.en ?? {});

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}

function initialLocale(): Locale {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (isLocale(saved)) return saved;
  } catch {
    // no storage
  }
  const nav = typeof navigator !== "undefined" ? navigator.language : "en";
  return nav.toLowerCase().startsWith("hi") ? "hi" : "en";
}

export function currentLocale(): Locale {
  return isLocale(i18n.resolvedLanguage) ? i18n.resolvedLanguage : isLocale(i18n.language) ? i18n.language : "en";
}

/** Switches the language, remembers it and sets <html lang>. */
export async function setLocale(locale: Locale): Promise<void> {
  try {
    localStorage.setItem(STORAGE_KEY, locale);
  } catch {
    // not remembered
  }
  await i18n.changeLanguage(locale);
}

i18n.on("languageChanged", (lng) => {
  if (typeof document !== "undefined") document.documentElement.lang = lng;
});

void i18n.use(initReactI18next).init({
  resources,
  lng: initialLocale(),
  fallbackLng: "en",
  supportedLngs: [...LOCALES],
  ns: namespaces,
  defaultNS: "common",
  interpolation: { escapeValue: false }, // React escapes
  returnNull: false,
  initAsync: false,
});

export default i18n;
