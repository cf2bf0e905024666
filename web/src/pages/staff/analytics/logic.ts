/**
 * The analytics dashboard's pure logic: filters <-> URL, the period asked of the API (aligned to its
 * windows), series shaping (missing windows are 0), bucket labels, heat intensity, durations in words.
 *
 * The API's windows are UTC-aligned (1m, 1h, 1d); `from`/`to` must be whole minutes with a zone, and a
 * time series needs both aligned to its window. Every period here is built that way.
 */
import type { HeatCell, LateCounts, Point } from "../../../api/types";
import { INTL_LOCALE, type Locale } from "../../../i18n";
import { formatNumber } from "../../../i18n/format";

export const PRESETS = ["24h", "7d", "30d", "90d", "custom"] as const;
export type Preset = (typeof PRESETS)[number];
export type WindowSize = "1h" | "1d";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The API refuses periods longer than this. */
export const MAX_DAYS = 400;

export interface Filters {
  period: Preset;
  /** YYYY-MM-DD, only for a custom period (both ends included). */
  from: string;
  to: string;
  category: string;
}

export const DEFAULT_FILTERS: Filters = { period: "7d", from: "", to: "", category: "" };

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

function isPreset(value: string | null): value is Preset {
  return value !== null && (PRESETS as readonly string[]).includes(value);
}

/** The filters kept in the page's query string; anything malformed falls back to the default. */
export function filtersFromUrl(params: URLSearchParams): Filters {
  const period = params.get("period");
  const from = params.get("from") ?? "";
  const to = params.get("to") ?? "";
  return {
    period: isPreset(period) ? period : DEFAULT_FILTERS.period,
    from: DATE_RE.test(from) ? from : "",
    to: DATE_RE.test(to) ? to : "",
    category: (params.get("category") ?? "").slice(0, 64),
  };
}

/** The query string for the filters (defaults left out; the dates only for a custom period). */
export function filtersToUrl(filters: Filters): URLSearchParams {
  const out = new URLSearchParams();
  if (filters.period !== DEFAULT_FILTERS.period) out.set("period", filters.period);
  if (filters.period === "custom") {
    if (filters.from) out.set("from", filters.from);
    if (filters.to) out.set("to", filters.to);
  }
  if (filters.category) out.set("category", filters.category);
  return out;
}

export interface Range {
  from: Date;
  /** Exclusive. */
  to: Date;
  window: WindowSize;
}

export type RangeError = "missing" | "order" | "span";

const PRESET_SPAN: Record<Exclude<Preset, "custom">, { count: number; window: WindowSize }> = {
  "24h": { count: 24, window: "1h" },
  "7d": { count: 7, window: "1d" },
  "30d": { count: 30, window: "1d" },
  "90d": { count: 90, window: "1d" },
};

const WINDOW_MS: Record<WindowSize, number> = { "1h": HOUR_MS, "1d": DAY_MS };

/** The end of the UTC window holding `now` (the API's windows are UTC-aligned). */
export function windowEnd(now: Date, window: WindowSize): Date {
  const size = WINDOW_MS[window];
  return new Date(Math.floor(now.getTime() / size) * size + size);
}

/** The period the filters mean: a preset ends with the current window; a custom range covers whole UTC days. */
export function resolveRange(filters: Filters, now: Date = new Date()): Range | { error: RangeError } {
  if (filters.period !== "custom") {
    const { count, window } = PRESET_SPAN[filters.period];
    const to = windowEnd(now, window);
    return { from: new Date(to.getTime() - count * WINDOW_MS[window]), to, window };
  }
  if (!filters.from || !filters.to) return { error: "missing" };
  const from = new Date(`${filters.from}T00:00:00Z`);
  const to = new Date(new Date(`${filters.to}T00:00:00Z`).getTime() + DAY_MS);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return { error: "missing" };
  if (from >= to) return { error: "order" };
  if (to.getTime() - from.getTime() > MAX_DAYS * DAY_MS) return { error: "span" };
  return { from, to, window: "1d" };
}

export function isRange(value: Range | { error: RangeError }): value is Range {
  return !("error" in value);
}

/** `2026-12-02T19:00:00Z`: whole minutes with a zone, as the API wants. */
export function isoMinute(date: Date): string {
  return `${date.toISOString().slice(0, 16)}:00Z`;
}

/** Query parameters shared by summary, time series, heatmap and export. */
export function analyticsParams(range: Range, category: string): Record<string, string> {
  const params: Record<string, string> = { from: isoMinute(range.from), to: isoMinute(range.to) };
  if (category) params.category = category;
  return params;
}

/** min_lon,min_lat,max_lon,max_lat of a map view, clamped to the world, 5 decimals. */
export function bboxParam(west: number, south: number, east: number, north: number): string {
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
  const r = (v: number) => Number(v.toFixed(5));
  return [r(clamp(west, -180, 180)), r(clamp(south, -90, 90)), r(clamp(east, -180, 180)), r(clamp(north, -90, 90))].join(",");
}

export type { HeatCell, Point };

export interface SeriesRow {
  start: Date;
  opened: number;
  resolved: number;
}

/** One row per window of the range, in order; a window the API left out (no events) is 0. */
export function shapeSeries(range: Range, opened: Point[], resolved: Point[]): SeriesRow[] {
  const size = WINDOW_MS[range.window];
  const index = (points: Point[]) => {
    const map = new Map<number, number>();
    for (const p of points) {
      const at = new Date(p.start).getTime();
      if (!Number.isNaN(at)) map.set(at, (map.get(at) ?? 0) + (p.value ?? 0));
    }
    return map;
  };
  const o = index(opened);
  const r = index(resolved);
  const rows: SeriesRow[] = [];
  for (let at = range.from.getTime(); at < range.to.getTime(); at += size) {
    rows.push({ start: new Date(at), opened: o.get(at) ?? 0, resolved: r.get(at) ?? 0 });
  }
  return rows;
}

export interface SeriesTotals {
  opened: number;
  resolved: number;
  /** The row with the most reports opened (null when nothing was opened). */
  busiest: SeriesRow | null;
}

export function seriesTotals(rows: SeriesRow[]): SeriesTotals {
  let opened = 0;
  let resolved = 0;
  let busiest: SeriesRow | null = null;
  for (const row of rows) {
    opened += row.opened;
    resolved += row.resolved;
    if (row.opened > 0 && (!busiest || row.opened > busiest.opened)) busiest = row;
  }
  return { opened, resolved, busiest };
}

/** A window's label in India's time: "2 Dec, 2:30 pm" for hours, "2 Dec 2026" for days. */
export function bucketLabel(start: Date, window: WindowSize, locale: Locale): string {
  const options: Intl.DateTimeFormatOptions =
    window === "1h"
      ? { day: "numeric", month: "short", hour: "numeric", minute: "2-digit", timeZone: "Asia/Kolkata" }
      : { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" };
  return new Intl.DateTimeFormat(INTL_LOCALE[locale], options).format(start);
}

/** A short axis tick: the hour ("2:30 pm") or the day ("2 Dec"). */
export function axisLabel(start: Date, window: WindowSize, locale: Locale): string {
  const options: Intl.DateTimeFormatOptions =
    window === "1h"
      ? { hour: "numeric", minute: "2-digit", timeZone: "Asia/Kolkata" }
      : { day: "numeric", month: "short", timeZone: "UTC" };
  return new Intl.DateTimeFormat(INTL_LOCALE[locale], options).format(start);
}

/** Indexes of at most `max` evenly spread ticks, always the first and the last. */
export function tickIndexes(length: number, max = 6): number[] {
  if (length <= 0) return [];
  if (length <= max) return Array.from({ length }, (_, i) => i);
  const step = (length - 1) / (max - 1);
  return Array.from(new Set(Array.from({ length: max }, (_, i) => Math.round(i * step))));
}

/** A "nice" axis maximum at or above `value` (1, 2, 5 x 10^n; at least 1). */
export function niceMax(value: number): number {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * power >= value) return m * power;
  return 10 * power;
}


export const HEAT_LEVELS = 5;

/** Intensity 0..1 of a value against the largest (linear; 0 when nothing is there). */
export function heatIntensity(value: number | null, max: number): number {
  if (!value || value <= 0 || max <= 0) return 0;
  return Math.min(1, value / max);
}

/** The level 1..HEAT_LEVELS told in words next to the colour ("level 3 of 5"); 0 for an empty cell. */
export function heatLevel(value: number | null, max: number): number {
  const intensity = heatIntensity(value, max);
  return intensity === 0 ? 0 : Math.max(1, Math.ceil(intensity * HEAT_LEVELS));
}

/** The fill opacity drawn for a level (never the only cue: the tooltip and the table give the number). */
export function heatOpacity(level: number): number {
  return level <= 0 ? 0 : 0.15 + (0.7 * level) / HEAT_LEVELS;
}

/** The cells with a value, largest first (ties by geohash), at most `n`. */
export function topCells(cells: HeatCell[], n = 10): HeatCell[] {
  return cells
    .filter((c) => (c.value ?? 0) > 0)
    .sort((a, b) => (b.value ?? 0) - (a.value ?? 0) || a.geohash.localeCompare(b.geohash))
    .slice(0, n);
}

/** The [[south, west], [north, east]] of a geohash cell from its centre and precision. */
export function cellBounds(lat: number, lon: number, precision: number): [[number, number], [number, number]] {
  const bits = 5 * precision;
  const lonBits = Math.ceil(bits / 2);
  const latBits = Math.floor(bits / 2);
  const dLat = 180 / 2 ** latBits / 2;
  const dLon = 360 / 2 ** lonBits / 2;
  return [
    [lat - dLat, lon - dLon],
    [lat + dLat, lon + dLon],
  ];
}

/** The geohash precision that gives a handful of cells across a map at `zoom`. */
export function precisionForZoom(zoom: number): number {
  if (zoom >= 11) return 5;
  if (zoom >= 8) return 4;
  if (zoom >= 5) return 3;
  if (zoom >= 3) return 2;
  return 1;
}

/** Seconds in words, the two largest units: "2 days, 3 hours", "४५ मिनट" (Intl unit names per locale). */
export function formatDuration(seconds: number | null | undefined, locale: Locale): string | null {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return null;
  const units: [Intl.NumberFormatOptions["unit"], number][] = [
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
    ["second", 1],
  ];
  let rest = Math.round(seconds);
  const parts: string[] = [];
  for (const [unit, size] of units) {
    if (parts.length === 2) break;
    const amount = Math.floor(rest / size);
    if (amount > 0 || (unit === "second" && parts.length === 0)) {
      parts.push(formatNumber(amount, locale, { style: "unit", unit, unitDisplay: "long" }));
      rest -= amount * size;
    } else if (parts.length > 0) {
      break; // "2 days" rather than "2 days, 0 hours"
    }
  }
  return new Intl.ListFormat(INTL_LOCALE[locale], { style: "narrow", type: "unit" }).format(parts);
}

/** The name the downloaded CSV gets. */
export function exportFilename(range: Range): string {
  const stamp = (d: Date) => d.toISOString().slice(0, 16).replace(/[-:]/g, "");
  return `snapfix-${range.window}-${stamp(range.from)}-${stamp(range.to)}.csv`;
}

/** Late events summed per category and window size (the API gives one entry per area too). */
export type LateEntry = LateCounts;

export interface LateRow {
  category: string;
  window: string;
  total: number;
}

export function lateRows(entries: LateEntry[]): LateRow[] {
  const sums = new Map<string, LateRow>();
  for (const e of entries) {
    const total = Object.values(e.counts ?? {}).reduce((a, b) => a + (Number(b) || 0), 0);
    if (total <= 0) continue;
    const key = `${e.category}|${e.window}`;
    const row = sums.get(key) ?? { category: e.category, window: e.window, total: 0 };
    row.total += total;
    sums.set(key, row);
  }
  return [...sums.values()].sort((a, b) => b.total - a.total || a.category.localeCompare(b.category));
}

/** The period in words for the page: times in India's zone for hourly windows, whole (UTC) days otherwise. */
export function periodLabel(range: Range, locale: Locale): string {
  const hourly = range.window === "1h";
  const format = new Intl.DateTimeFormat(INTL_LOCALE[locale], {
    dateStyle: "medium",
    timeStyle: hourly ? "short" : undefined,
    timeZone: hourly ? "Asia/Kolkata" : "UTC",
  });
  const last = hourly ? range.to : new Date(range.to.getTime() - DAY_MS);
  return format.formatRange(range.from, last);
}
