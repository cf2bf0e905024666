/** The user screens' request shaping, apart from React. */
import type { components } from "../../../api/schema";
import type { CreateUserRequest, Role } from "../../../api/types";

export type AdminUserView = components["schemas"]["AdminUserView"];
export type ChangeUserRequest = components["schemas"]["ChangeUserRequest"];
export type UserPage = components["schemas"]["UserPage"];

/** Departments typed freely: split on commas and spaces, lower-cased, de-duplicated. */
export function parseDepartments(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,]+/)
        .map((d) => d.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
}

/** The ticked departments plus the typed ones, in a stable order. */
export function mergeDepartments(ticked: string[], typed: string): string[] {
  return [...new Set([...ticked, ...parseDepartments(typed)])].sort();
}

/** The departments to offer: the catalogue's plus those the accounts already hold. */
export function departmentChoices(catalogue: string[], held: string[] = []): string[] {
  return [...new Set([...catalogue, ...held])].filter(Boolean).sort();
}

export interface AccessForm {
  role: Role;
  departments: string[];
  otherDepartments: string;
}

/** PATCH body with only what changed (null when nothing did). Citizens hold no departments. */
export function changeRequest(user: AdminUserView, form: AccessForm): ChangeUserRequest | null {
  const body: ChangeUserRequest = {};
  if (form.role !== user.role) body.role = form.role;
  const departments = form.role === "citizen" ? [] : mergeDepartments(form.departments, form.otherDepartments);
  const before = [...user.departments].sort();
  if (form.role !== "citizen" && (departments.length !== before.length || departments.some((d, i) => d !== before[i])))
    body.departments = departments;
  return Object.keys(body).length ? body : null;
}

export interface CreateForm {
  email: string;
  display_name: string;
  password: string;
  role: Role;
  departments: string[];
  otherDepartments: string;
}

export function emptyCreateForm(): CreateForm {
  return { email: "", display_name: "", password: "", role: "staff", departments: [], otherDepartments: "" };
}

export function createRequest(form: CreateForm): CreateUserRequest {
  const body: CreateUserRequest = {
    email: form.email.trim(),
    display_name: form.display_name.trim(),
    password: form.password,
    role: form.role,
  };
  const departments = mergeDepartments(form.departments, form.otherDepartments);
  if (form.role !== "citizen" && departments.length) body.departments = departments;
  return body;
}

/** Query parameters of the list (empty values left out by the client). */
export function listParams(filters: { role: string; q: string }, cursor: string | undefined) {
  return { role: filters.role || undefined, q: filters.q.trim() || undefined, cursor, limit: 25 };
}
