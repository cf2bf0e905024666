/**
 * The report form's logic, kept apart from React so it can be tested: the draft's shape, attribute
 * values from their inputs' strings, client-side validation, the request body, and the rule that
 * keeps ONE Idempotency-Key per logical submit.
 */
import { ProblemError } from "../../../api/client";
import type { AttributeSpec, CategorySpec, ReportIssueRequest } from "../../../api/types";

/** What the form keeps in sessionStorage (useDraft): strings as typed, never files. */
export interface ReportDraft {
  lat: string;
  lon: string;
  category: string;
  title: string;
  description: string;
  /** attribute code -> the input's string ("" = not given; booleans "true"/"false") */
  attributes: Record<string, string>;
  anonymous: boolean;
}

export const EMPTY_DRAFT: ReportDraft = {
  lat: "",
  lon: "",
  category: "",
  title: "",
  description: "",
  attributes: {},
  anonymous: false,
};

export const MAX_PHOTOS = 5;
export const TITLE_MIN = 3;
export const TITLE_MAX = 200;
export const DESCRIPTION_MAX = 5000;

/** Field -> i18n key (in the `report` namespace) of the message to show. */
export type ClientErrors = Record<string, string>;

export type AttributeValue = string | number | boolean;

/** Parses a decimal degree typed by a person ("12.97", " 77,59 " with a comma too); null if not a number. */
export function parseCoordinate(text: string): number | null {
  const t = text.trim().replace(",", ".");
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/** The point of the draft, when both coordinates are valid degrees. */
export function pointOf(draft: Pick<ReportDraft, "lat" | "lon">): { lat: number; lon: number } | null {
  const lat = parseCoordinate(draft.lat);
  const lon = parseCoordinate(draft.lon);
  if (lat === null || lon === null || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return { lat, lon };
}

/** Six decimals (about 10 cm): what the map writes into the text inputs. */
export function formatCoordinate(n: number): string {
  return n.toFixed(6);
}

/**
 * One attribute's value from its input's string: `undefined` when not given, else the typed value,
 * or `{ error }` (an i18n key) when the text does not fit the datatype.
 */
export function attributeValue(spec: AttributeSpec, raw: string | undefined): AttributeValue | undefined | { error: string } {
  const text = (raw ?? "").trim();
  if (text === "") return undefined;
  switch (spec.datatype) {
    case "string":
      return text;
    case "number": {
      const n = Number(text.replace(",", "."));
      return Number.isFinite(n) ? n : { error: "errors.number" };
    }
    case "boolean":
      if (text === "true") return true;
      if (text === "false") return false;
      return { error: "errors.choose" };
    case "singlevaluelist":
      return (spec.values ?? []).some((v) => v.key === text) ? text : { error: "errors.choose" };
    default:
      return text;
  }
}

function isError(v: unknown): v is { error: string } {
  return typeof v === "object" && v !== null && "error" in v;
}

/** The attributes of the category, typed; errors keyed `attributes.<code>` as the API names them. */
export function attributesOf(
  category: CategorySpec | undefined,
  raw: Record<string, string>,
): { values: Record<string, AttributeValue>; errors: ClientErrors } {
  const values: Record<string, AttributeValue> = {};
  const errors: ClientErrors = {};
  for (const spec of category?.attributes ?? []) {
    const v = attributeValue(spec, raw[spec.code]);
    const field = `attributes.${spec.code}`;
    if (isError(v)) errors[field] = v.error;
    else if (v === undefined) {
      if (spec.required) errors[field] = "errors.required";
    } else values[spec.code] = v;
  }
  return { values, errors };
}

/** Everything the form can tell before asking the server; empty when the report may be sent. */
export function validate(draft: ReportDraft, category: CategorySpec | undefined, photosBusy = false): ClientErrors {
  const errors: ClientErrors = {};
  if (!pointOf(draft)) {
    if (draft.lat.trim() === "" && draft.lon.trim() === "") errors.location = "errors.location";
    else {
      const lat = parseCoordinate(draft.lat);
      const lon = parseCoordinate(draft.lon);
      if (lat === null || Math.abs(lat) > 90) errors.lat = "errors.lat";
      if (lon === null || Math.abs(lon) > 180) errors.lon = "errors.lon";
    }
  }
  if (!draft.category) errors.category = "errors.category";
  // In the form's order: the first one gets the focus.
  Object.assign(errors, attributesOf(category, draft.attributes).errors);
  const title = draft.title.trim();
  if (title.length < TITLE_MIN) errors.title = "errors.titleShort";
  else if (title.length > TITLE_MAX) errors.title = "errors.titleLong";
  if (draft.description.length > DESCRIPTION_MAX) errors.description = "errors.descriptionLong";
  if (photosBusy) errors.photos = "errors.photosBusy";
  return errors;
}

/** The body of POST /v1/issues (call only when validate() found nothing). */
export function buildRequest(draft: ReportDraft, category: CategorySpec | undefined, mediaIds: string[]): ReportIssueRequest {
  const point = pointOf(draft);
  if (!point) throw new Error("buildRequest needs a valid location");
  return {
    title: draft.title.trim(),
    description: draft.description.trim(),
    category: draft.category,
    lat: point.lat,
    lon: point.lon,
    attributes: attributesOf(category, draft.attributes).values,
    media_ids: mediaIds.slice(0, MAX_PHOTOS),
    anonymous: draft.anonymous,
  };
}

/** Categories by `group` (groups and names in alphabetical order; no group last). */
export function groupCategories(categories: CategorySpec[], locale = "en"): { group: string; items: CategorySpec[] }[] {
  const groups = new Map<string, CategorySpec[]>();
  for (const c of categories) {
    const g = c.group ?? "";
    groups.set(g, [...(groups.get(g) ?? []), c]);
  }
  const cmp = (a: string, b: string) => a.localeCompare(b, locale);
  return [...groups.entries()]
    .sort(([a], [b]) => (a === "" ? 1 : b === "" ? -1 : cmp(a, b)))
    .map(([group, items]) => ({ group, items: [...items].sort((a, b) => cmp(a.name, b.name)) }));
}

/** The server's (or the form's own) message for one field. */
export function fieldMessage(
  field: string,
  clientErrors: ClientErrors,
  problem: unknown,
  t: (key: string) => string,
): string | undefined {
  if (clientErrors[field]) return t(clientErrors[field]);
  return problem instanceof ProblemError ? problem.fieldError(field) : undefined;
}

/** The content type for POST /v1/media, from the file (or its name when the browser gives none, as for HEIC). */
const TYPES = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"] as const;
export type PhotoType = (typeof TYPES)[number];
export function photoType(file: { type: string; name: string }): PhotoType | null {
  if ((TYPES as readonly string[]).includes(file.type)) return file.type as PhotoType;
  const ext = /\.([a-z0-9]+)$/i.exec(file.name)?.[1]?.toLowerCase();
  const byExt: Record<string, PhotoType> = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp", heic: "image/heic", heif: "image/heif" };
  return ext && !file.type ? (byExt[ext] ?? null) : null;
}
export const MAX_PHOTO_BYTES = 15 * 1024 * 1024;
