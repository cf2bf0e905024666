/**
 * The logic of the notification feed and the notification settings, apart from React (unit-tested):
 * marking read without reloading, which moments a user is offered in which group, the pending
 * (unsaved) preference changes as the partial update the API takes, and the watch form's request.
 */
import type { FeedPage, Preferences, Role, WatchRequest } from "../../../api/types";
import type { Locale } from "../../../i18n";
import { formatNumber } from "../../../i18n/format";

// -- feed

export function markOneRead(page: FeedPage, id: string): FeedPage {
  const target = page.items.find((i) => i.id === id);
  if (!target || target.read) return page;
  return {
    ...page,
    unread: Math.max(0, page.unread - 1),
    items: page.items.map((i) => (i.id === id ? { ...i, read: true } : i)),
  };
}

export function markAllRead(page: FeedPage): FeedPage {
  return { ...page, unread: 0, items: page.items.map((i) => (i.read ? i : { ...i, read: true })) };
}

/** The app's page for a notification: its issue's page (API links are never followed from here). */
export function issuePath(issueId: string | null | undefined): string | null {
  return issueId ? `/issues/${encodeURIComponent(issueId)}` : null;
}

// -- preferences

export type Moments = Preferences["moments"];
/** moment -> channel -> on: only what differs from the saved preferences (PreferencesChange.moments). */
export type Changes = Record<string, Record<string, boolean>>;

export const MOMENT_GROUPS: { key: "ownReports" | "followed" | "staffWork" | "areas"; moments: string[]; staffOnly?: boolean }[] = [
  { key: "ownReports", moments: ["report_received", "acknowledged", "status_changed", "comment_added", "resolved", "duplicate"] },
  { key: "followed", moments: ["followed_status_changed", "followed_comment_added"] },
  { key: "staffWork", moments: ["assigned", "overdue"], staffOnly: true },
  { key: "areas", moments: ["area_report"] },
];

/** The groups (and their moments) to offer: only moments the API knows, staff moments to staff. */
export function groupsFor(prefs: Preferences, role: Role | undefined) {
  const staff = role === "staff" || role === "admin";
  return MOMENT_GROUPS.filter((g) => staff || !g.staffOnly)
    .map((g) => ({ ...g, moments: g.moments.filter((m) => m in prefs.moments) }))
    .filter((g) => g.moments.length > 0);
}

export function choice(prefs: Preferences, changes: Changes, moment: string, channel: string): boolean {
  return changes[moment]?.[channel] ?? prefs.moments[moment]?.[channel] ?? false;
}

/** The changes after one toggle; setting a choice back to its saved value drops it from the changes. */
export function toggle(prefs: Preferences, changes: Changes, moment: string, channel: string, on: boolean): Changes {
  const saved = prefs.moments[moment]?.[channel] ?? false;
  const forMoment = { ...changes[moment] };
  if (on === saved) delete forMoment[channel];
  else forMoment[channel] = on;
  const next = { ...changes };
  if (Object.keys(forMoment).length === 0) delete next[moment];
  else next[moment] = forMoment;
  return next;
}

/** Changes that still differ from `prefs` (a draft kept from an earlier visit may be stale). */
export function pendingChanges(prefs: Preferences, changes: Changes): Changes {
  let out: Changes = {};
  for (const [moment, channels] of Object.entries(changes)) {
    if (!(moment in prefs.moments) || typeof channels !== "object" || channels === null) continue;
    for (const [channel, on] of Object.entries(channels)) {
      if (prefs.channels.includes(channel) && typeof on === "boolean") out = toggle(prefs, out, moment, channel, on);
    }
  }
  return out;
}

// -- watches

export const RADIUS_MAX_M = 50_000;

export interface WatchForm {
  lat: string;
  lon: string;
  radius: string;
  digest: boolean;
}

export type WatchFormErrors = Partial<Record<"lat" | "lon" | "radius", true>>;

function parseNumber(text: string): number | null {
  const t = text.trim().replace(",", ".");
  if (!/^[-+]?(\d+\.?\d*|\.\d+)$/.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/** The WatchRequest for the form, or which fields are wrong (the API's bounds). */
export function watchRequest(form: WatchForm): { request: WatchRequest } | { errors: WatchFormErrors } {
  const lat = parseNumber(form.lat);
  const lon = parseNumber(form.lon);
  const radius = parseNumber(form.radius);
  const errors: WatchFormErrors = {};
  if (lat === null || lat < -90 || lat > 90) errors.lat = true;
  if (lon === null || lon < -180 || lon > 180) errors.lon = true;
  if (radius === null || radius <= 0 || radius > RADIUS_MAX_M) errors.radius = true;
  if (Object.keys(errors).length > 0) return { errors };
  return { request: { lat: lat!, lon: lon!, radius_m: radius!, digest: form.digest } };
}

/** Six decimals (about 10 cm): enough for a watch's centre, short enough to read. */
export function formatCoordinate(n: number): string {
  return n.toFixed(6).replace(/\.?0+$/, "");
}

/** "500 m", "1.5 km" in the user's language. */
export function formatRadius(metres: number, locale?: Locale): string {
  return metres >= 1000
    ? formatNumber(metres / 1000, locale, { style: "unit", unit: "kilometer", maximumFractionDigits: 1 })
    : formatNumber(Math.round(metres), locale, { style: "unit", unit: "meter" });
}
