/**
 * The category editor's logic, apart from React: the form's state, the attribute list reducer
 * (add, remove, reorder, edit), canned response checks, and the shaping of the PUT body.
 */
import type { AttributeSpec, CategoryBody, CategorySpec } from "../../../api/types";

export type Datatype = AttributeSpec["datatype"];
export const DATATYPES: Datatype[] = ["string", "number", "boolean", "singlevaluelist"];

/** `canned_responses` may be missing from an older API's answer. */
export interface CannedResponse {
  id: string;
  title: string;
  body: string;
}

/** A category as staff and admins read it (older generated types may lack `canned_responses`). */
export type AdminCategory = Omit<CategorySpec, "canned_responses"> & { canned_responses?: CannedResponse[] | null };
/** The PUT body with the canned responses (CategoryBody in docs/openapi.json). */
export type CategoryPut = CategoryBody & { canned_responses: CannedResponse[] };

let counter = 0;
/** A stable React key for a row that has no identity of its own yet. */
export function uid(): string {
  counter += 1;
  return `row-${counter}`;
}

export interface AttributeDraft {
  uid: string;
  code: string;
  description: string;
  datatype: Datatype;
  required: boolean;
  /** One option a line: `key = Name` (or just `key`, then the name is the key). */
  options: string;
}

export interface CannedDraft {
  uid: string;
  id: string;
  title: string;
  body: string;
}

export interface CategoryForm {
  code: string;
  name: string;
  group: string;
  description: string;
  /** Comma-separated. */
  keywords: string;
  department: string;
  sla_hours: string;
  attributes: AttributeDraft[];
  canned: CannedDraft[];
}

export function emptyForm(): CategoryForm {
  return {
    code: "",
    name: "",
    group: "",
    description: "",
    keywords: "",
    department: "",
    sla_hours: "48",
    attributes: [],
    canned: [],
  };
}

export function optionsToText(values: AttributeSpec["values"]): string {
  return (values ?? []).map((v) => (v.key === v.name ? v.key : `${v.key} = ${v.name}`)).join("\n");
}

/** `key = Name` lines to options (blank lines skipped; a line without `=` uses its text for both). */
export function parseOptions(text: string): { key: string; name: string }[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const at = line.indexOf("=");
      if (at < 0) return { key: line, name: line };
      const key = line.slice(0, at).trim();
      const name = line.slice(at + 1).trim();
      return { key, name: name || key };
    });
}

export function formFromCategory(c: AdminCategory): CategoryForm {
  return {
    code: c.code,
    name: c.name,
    group: c.group ?? "",
    description: c.description ?? "",
    keywords: (c.keywords ?? []).join(", "),
    department: c.department,
    sla_hours: String(c.sla_hours),
    attributes: (c.attributes ?? []).map((a) => ({
      uid: uid(),
      code: a.code,
      description: a.description ?? "",
      datatype: a.datatype,
      required: a.required ?? false,
      options: optionsToText(a.values),
    })),
    canned: (Array.isArray(c.canned_responses) ? c.canned_responses : []).map((r) => ({ uid: uid(), ...r })),
  };
}

/** The PUT body (CategoryBody): trimmed texts, keywords split, options parsed only for lists. */
export function toBody(form: CategoryForm): CategoryPut {
  const sla = Number(form.sla_hours);
  return {
    name: form.name.trim(),
    group: form.group.trim(),
    description: form.description.trim(),
    keywords: form.keywords
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean),
    department: form.department.trim(),
    sla_hours: Number.isFinite(sla) && form.sla_hours.trim() !== "" ? Math.trunc(sla) : 0,
    attributes: form.attributes.map((a) => ({
      code: a.code.trim(),
      description: a.description.trim(),
      datatype: a.datatype,
      required: a.required,
      values: a.datatype === "singlevaluelist" ? parseOptions(a.options) : [],
    })),
    canned_responses: form.canned.map((c) => ({ id: c.id.trim(), title: c.title.trim(), body: c.body.trim() })),
  };
}

// -- the attribute list --------------------------------------------------------------

export type AttributeAction =
  | { type: "add" }
  | { type: "remove"; uid: string }
  | { type: "move"; uid: string; by: -1 | 1 }
  | { type: "change"; uid: string; patch: Partial<Omit<AttributeDraft, "uid">> };

export const MAX_ATTRIBUTES = 30;

export function attributesReducer(list: AttributeDraft[], action: AttributeAction): AttributeDraft[] {
  switch (action.type) {
    case "add":
      if (list.length >= MAX_ATTRIBUTES) return list;
      return [...list, { uid: uid(), code: "", description: "", datatype: "string", required: false, options: "" }];
    case "remove":
      return list.filter((a) => a.uid !== action.uid);
    case "move": {
      const from = list.findIndex((a) => a.uid === action.uid);
      const to = from + action.by;
      if (from < 0 || to < 0 || to >= list.length) return list;
      const next = [...list];
      const [moved] = next.splice(from, 1);
      next.splice(to, 0, moved!);
      return next;
    }
    case "change":
      return list.map((a) => (a.uid === action.uid ? { ...a, ...action.patch } : a));
  }
}

// -- checks before sending (the server checks again; its 422 shows next to the same fields) --

export type Errors = Record<string, string>;
export type ErrorCode =
  | "required"
  | "tooLong"
  | "slug"
  | "duplicate"
  | "controlChars"
  | "slaRange"
  | "noOptions"
  | "tooMany";

const SLUG = /^[a-z0-9][a-z0-9_-]*$/;
const ATTRIBUTE_CODE = /^[a-z0-9][a-z0-9_]*$/;
const DEPARTMENT = /^[a-z0-9][a-z0-9_.-]*$/;
// Not text for XML 1.0 (the API refuses them): C0 controls but tab, LF, CR; U+FFFE/U+FFFF.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
export const MAX_CANNED = 20;

function text(errors: Record<string, ErrorCode>, field: string, value: string, max: number): void {
  const v = value.trim();
  if (!v) errors[field] = "required";
  else if (v.length > max) errors[field] = "tooLong";
  else if (CONTROL.test(v)) errors[field] = "controlChars";
}

/** Per-field problems of the canned responses (`canned_responses.<i>.<field>`), as the API names them. */
export function validateCanned(list: Pick<CannedDraft, "id" | "title" | "body">[]): Record<string, ErrorCode> {
  const errors: Record<string, ErrorCode> = {};
  if (list.length > MAX_CANNED) errors.canned_responses = "tooMany";
  const seen = new Set<string>();
  list.forEach((c, i) => {
    const id = c.id.trim();
    const at = `canned_responses.${i}`;
    if (!id) errors[`${at}.id`] = "required";
    else if (id.length > 64) errors[`${at}.id`] = "tooLong";
    else if (!SLUG.test(id)) errors[`${at}.id`] = "slug";
    else if (seen.has(id)) errors[`${at}.id`] = "duplicate";
    seen.add(id);
    text(errors, `${at}.title`, c.title, 80);
    text(errors, `${at}.body`, c.body, 2000);
  });
  return errors;
}

/** Every client-side problem of the form, by the API's field names. */
export function validateForm(form: CategoryForm, isNew: boolean): Record<string, ErrorCode> {
  const errors: Record<string, ErrorCode> = {};
  if (isNew) {
    const code = form.code.trim();
    if (!code) errors.code = "required";
    else if (!DEPARTMENT.test(code) || code.length > 64) errors.code = "slug";
  }
  text(errors, "name", form.name, 200);
  const dept = form.department.trim();
  if (!dept) errors.department = "required";
  else if (!DEPARTMENT.test(dept) || dept.length > 64) errors.department = "slug";
  const sla = Number(form.sla_hours);
  if (!form.sla_hours.trim() || !Number.isInteger(sla) || sla < 1 || sla > 8760) errors.sla_hours = "slaRange";
  const codes = new Set<string>();
  form.attributes.forEach((a, i) => {
    const code = a.code.trim();
    const at = `attributes.${i}`;
    if (!code) errors[`${at}.code`] = "required";
    else if (!ATTRIBUTE_CODE.test(code) || code.length > 64) errors[`${at}.code`] = "slug";
    else if (codes.has(code)) errors[`${at}.code`] = "duplicate";
    codes.add(code);
    if (a.datatype === "singlevaluelist" && parseOptions(a.options).length === 0) errors[`${at}.values`] = "noOptions";
  });
  return { ...errors, ...validateCanned(form.canned) };
}
