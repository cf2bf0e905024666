/** Numbers and dates per locale (en-IN, hi-IN): lakh grouping, Indian date order. */
import { currentLocale, INTL_LOCALE, type Locale } from "./index";

const intl = (locale?: Locale) => INTL_LOCALE[locale ?? currentLocale()];

export function formatNumber(n: number, locale?: Locale, options?: Intl.NumberFormatOptions): string {
  return new Intl.NumberFormat(intl(locale), options).format(n);
}

function toDate(iso: string | Date): Date {
  return iso instanceof Date ? iso : new Date(iso);
}

export function formatDate(iso: string | Date, locale?: Locale): string {
  return new Intl.DateTimeFormat(intl(locale), { dateStyle: "medium", timeZone: "Asia/Kolkata" }).format(toDate(iso));
}

export function formatDateTime(iso: string | Date, locale?: Locale): string {
  return new Intl.DateTimeFormat(intl(locale), { dateStyle: "medium", timeStyle: "short", timeZone: "Asia/Kolkata" }).format(
    toDate(iso),
  );
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** "3 hours ago", "in 2 days", "३ घंटे पहले"... */
export function formatRelative(iso: string | Date, locale?: Locale, now: Date = new Date()): string {
  const seconds = Math.round((toDate(iso).getTime() - now.getTime()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(intl(locale), { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") return rtf.format(Math.round(seconds / size), unit);
  }
  return rtf.format(0, "second");
}
