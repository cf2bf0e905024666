/**
 * The public map's and list's pure logic: the filters and view kept in the URL query, the grid level
 * of the server-side clusters for a zoom and viewport, bounding boxes, and the issue page's reducer.
 */
import type { IssueDetail, IssueStatus } from "../../../api/types";

export const STATUSES: IssueStatus[] = [
  "open",
  "acknowledged",
  "in_progress",
  "resolved",
  "closed",
  "reopened",
  "duplicate",
  "rejected",
  "withdrawn",
];

/** From this zoom on, the map shows individual reports instead of clusters. */
export const MARKERS_FROM_ZOOM = 15;
/** The server refuses more cells than this per request (issues service MAX_CELLS). */
export const MAX_CELLS = 4096;
/** Cells of about 64 px: a cell level two above the zoom (a 256 px tile spans 360/2^zoom degrees). */
const LEVEL_ABOVE_ZOOM = 2;
/** The grid's latitude range (Redis's geo index). */
const GEO_MAX_LAT = 85.05112878;
const GEO_LAT_SPAN = 2 * GEO_MAX_LAT;

export interface Filters {
  status: IssueStatus | null;
  category: string | null;
}

export interface View {
  lat: number;
  lon: number;
  zoom: number;
}

/** west, south, east, north in degrees. */
export type Bbox = [number, number, number, number];

const CATEGORY_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export function isStatus(v: unknown): v is IssueStatus {
  return typeof v === "string" && (STATUSES as string[]).includes(v);
}

/** The filters in a URL query; anything malformed is ignored (a hand-edited link still opens). */
export function parseFilters(params: URLSearchParams): Filters {
  const status = params.get("status");
  const category = params.get("category");
  return {
    status: isStatus(status) ? status : null,
    category: category && CATEGORY_RE.test(category) ? category : null,
  };
}

const finite = (s: string | null): number | null => {
  if (s === null || s.trim() === "") return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
};

/** The map's view in a URL query (`lat`, `lon`, `z`), or null when absent or out of range. */
export function parseView(params: URLSearchParams): View | null {
  const lat = finite(params.get("lat"));
  const lon = finite(params.get("lon"));
  const zoom = finite(params.get("z"));
  if (lat === null || lon === null || zoom === null) return null;
  if (Math.abs(lat) > 85 || Math.abs(lon) > 180 || zoom < 1 || zoom > 20) return null;
  return { lat, lon, zoom: Math.round(zoom) };
}

/**
 * A new query with `changes` applied: null/empty removes a key, other keys are kept. Changing a filter
 * drops the list's `cursor` (a page of another result).
 */
export function withQuery(params: URLSearchParams, changes: Record<string, string | number | null | undefined>): URLSearchParams {
  const next = new URLSearchParams(params);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "") next.delete(key);
    else next.set(key, String(value));
  }
  return next;
}

/** Only the filter keys (and the bbox, if given) of a query: what "View as a list" carries over. */
export function filterQuery(filters: Filters, bbox?: Bbox | null): string {
  const q = new URLSearchParams();
  if (filters.category) q.set("category", filters.category);
  if (filters.status) q.set("status", filters.status);
  if (bbox) q.set("bbox", formatBbox(bbox));
  const s = q.toString();
  return s ? `?${s}` : "";
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

/** `west,south,east,north`, clamped to the world, six decimals (the API's pattern: digits and dots). */
export function formatBbox([west, south, east, north]: Bbox): string {
  const clampLon = (n: number) => Math.max(-180, Math.min(180, n));
  const clampLat = (n: number) => Math.max(-GEO_MAX_LAT, Math.min(GEO_MAX_LAT, n));
  return [clampLon(west), clampLat(south), clampLon(east), clampLat(north)].map((n) => round6(n).toFixed(6)).join(",");
}

export function parseBbox(s: string | null): Bbox | null {
  if (!s) return null;
  const parts = s.split(",").map((p) => finite(p));
  if (parts.length !== 4 || parts.some((p) => p === null)) return null;
  const [west, south, east, north] = parts as number[] as Bbox;
  if (Math.abs(west) > 180 || Math.abs(east) > 180 || Math.abs(south) > 90 || Math.abs(north) > 90 || south >= north) return null;
  return [west, south, east, north];
}

/** A city-wide box around a centre (about 33 km across at Bengaluru's latitude). */
export function cityBbox([lat, lon]: [number, number], halfDegrees = 0.15): Bbox {
  return [lon - halfDegrees, lat - halfDegrees, lon + halfDegrees, lat + halfDegrees];
}

/** How many grid cells of `level` the box meets (as the server counts them). */
export function cellCount(level: number, [west, south, east, north]: Bbox): number {
  const n = 2 ** level;
  const col = (lon: number) => Math.min(n - 1, Math.max(0, Math.floor(((lon + 180) / 360) * n)));
  const row = (lat: number) => Math.min(n - 1, Math.max(0, Math.floor(((lat + GEO_MAX_LAT) / GEO_LAT_SPAN) * n)));
  const s = Math.max(south, -GEO_MAX_LAT);
  const no = Math.min(north, GEO_MAX_LAT);
  if (s > no) return 0;
  const columns = west <= east ? col(east) - col(west) + 1 : n - col(west) + col(east) + 1;
  return Math.min(columns, n) * (row(no) - row(s) + 1);
}

/** The cluster grid's level for a zoom: about 64 px cells, lowered until the viewport needs at most MAX_CELLS. */
export function levelForView(zoom: number, bbox: Bbox): number {
  let level = Math.max(1, Math.min(20, Math.round(zoom) + LEVEL_ABOVE_ZOOM));
  while (level > 1 && cellCount(level, bbox) > MAX_CELLS) level -= 1;
  return level;
}

export type MapMode = "clusters" | "markers";

export function modeForZoom(zoom: number): MapMode {
  return zoom >= MARKERS_FROM_ZOOM ? "markers" : "clusters";
}

/** The query of GET /v1/map/cells or /v1/map/issues for a viewport and filters. */
export function mapRequest(
  mode: MapMode,
  zoom: number,
  bbox: Bbox,
  filters: Filters,
): { path: string; searchParams: Record<string, string | number> } {
  const searchParams: Record<string, string | number> = { bbox: formatBbox(bbox) };
  if (filters.status) searchParams.status = filters.status;
  if (filters.category) searchParams.category = filters.category;
  if (mode === "clusters") {
    searchParams.level = levelForView(zoom, bbox);
    return { path: "/v1/map/cells", searchParams };
  }
  searchParams.limit = 200;
  return { path: "/v1/map/issues", searchParams };
}

// -- the issue page ----------------------------------------------------------------------------

export const REOPEN_WINDOW_DAYS = 30;

/** The statuses the reporter may reopen from (rules.py's REPORTER_TRANSITIONS into "reopened"). */
export const REOPENABLE_STATUSES: ReadonlySet<string> = new Set(["resolved", "closed"]);

/**
 * The reporter may reopen a resolved or closed issue for 30 days after it was resolved, as the API decides
 * (services/issues rules.py): measured from resolved_at, and never without one.
 */
export function canReopen(issue: Pick<IssueDetail, "status" | "reporter_id" | "resolved_at">, userId: string | null | undefined, now: Date = new Date()): boolean {
  if (!userId || !REOPENABLE_STATUSES.has(issue.status) || issue.reporter_id !== userId) return false;
  if (!issue.resolved_at) return false;
  const resolved = new Date(issue.resolved_at).getTime();
  if (Number.isNaN(resolved)) return false;
  return now.getTime() - resolved <= REOPEN_WINDOW_DAYS * 24 * 3600 * 1000;
}

export type IssueState =
  | { kind: "loading"; attempt: number }
  | { kind: "processing"; attempt: number }
  | { kind: "ready"; issue: IssueDetail }
  | { kind: "notFound" }
  | { kind: "rejected"; reason: string }
  | { kind: "error"; error: unknown };

export type IssueAction =
  | { type: "loaded"; issue: IssueDetail }
  | { type: "missing"; maxAttempts: number }
  | { type: "failed"; error: unknown }
  | { type: "rejected"; reason: string }
  | { type: "retry" };

/** A report just accepted may 404 for a few seconds: "processing" for maxAttempts tries, then not found. */
export function issueReducer(state: IssueState, action: IssueAction): IssueState {
  switch (action.type) {
    case "loaded":
      return { kind: "ready", issue: action.issue };
    case "missing": {
      if (state.kind === "ready") return state; // a refresh after deletion keeps what was shown
      const attempt = state.kind === "loading" || state.kind === "processing" ? state.attempt + 1 : 1;
      return attempt >= action.maxAttempts ? { kind: "notFound" } : { kind: "processing", attempt };
    }
    case "failed":
      return state.kind === "ready" ? state : { kind: "error", error: action.error };
    case "rejected":
      return { kind: "rejected", reason: action.reason };
    case "retry":
      return { kind: "loading", attempt: 0 };
  }
}

/** Picks a variant URL from a PhotoView's `urls` ("thumb", "medium", "large", perhaps with a format suffix). */
export function photoUrl(urls: Record<string, string> | null | undefined, preference: string[]): string | null {
  if (!urls) return null;
  const keys = Object.keys(urls);
  for (const want of preference) {
    const exact = urls[want];
    if (exact) return exact;
    const key = keys.find((k) => k.startsWith(`${want}.`) || k.startsWith(`${want}_`) || k.startsWith(`${want}-`));
    if (key) return urls[key] ?? null;
  }
  const first = keys[0];
  return first ? (urls[first] ?? null) : null;
}
