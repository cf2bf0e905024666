/**
 * The staff console's pure logic: the queue's query, the lifecycle moves staff may make
 * (mirrors services/issues/src/snapfix_issues/rules.py STAFF_TRANSITIONS) and the bulk runner.
 */
import type { IssueStatus, Priority } from "../../../api/types";
import type { SearchParams } from "../../../api/client";

export const SORTS = ["due", "priority", "newest", "oldest"] as const;
export type QueueSort = (typeof SORTS)[number];
export const PRIORITIES: Priority[] = ["urgent", "high", "normal", "low"];
export const STATUSES: IssueStatus[] = [
  "open",
  "acknowledged",
  "in_progress",
  "reopened",
  "resolved",
  "closed",
  "duplicate",
  "rejected",
  "withdrawn",
];

export interface QueueFilters {
  department: string;
  status: IssueStatus | "";
  priority: Priority | "";
  overdue: boolean;
  sort: QueueSort;
}

export const DEFAULT_FILTERS: QueueFilters = { department: "", status: "", priority: "", overdue: false, sort: "due" };

function isOneOf<T extends string>(values: readonly T[], v: string | null): v is T {
  return v !== null && (values as readonly string[]).includes(v);
}

/** The filters kept in the page's URL (`?status=open&sort=priority`); unknown values fall back to the defaults. */
export function filtersFromUrl(params: URLSearchParams): QueueFilters {
  const department = params.get("department") ?? "";
  const status = params.get("status");
  const priority = params.get("priority");
  const sort = params.get("sort");
  return {
    department: /^[a-z0-9][a-z0-9_.-]{0,63}$/.test(department) ? department : "",
    status: isOneOf(STATUSES, status) ? status : "",
    priority: isOneOf(PRIORITIES, priority) ? priority : "",
    overdue: params.get("overdue") === "true",
    sort: isOneOf(SORTS, sort) ? sort : DEFAULT_FILTERS.sort,
  };
}

/** The URL form of the filters: only what differs from the defaults. */
export function filtersToUrl(filters: QueueFilters): URLSearchParams {
  const out = new URLSearchParams();
  if (filters.department) out.set("department", filters.department);
  if (filters.status) out.set("status", filters.status);
  if (filters.priority) out.set("priority", filters.priority);
  if (filters.overdue) out.set("overdue", "true");
  if (filters.sort !== DEFAULT_FILTERS.sort) out.set("sort", filters.sort);
  return out;
}

/** GET /v1/staff/queue's query: empty filters are left out (the API then uses all of the user's departments). */
export function queueSearchParams(filters: QueueFilters, cursor: string | undefined): SearchParams {
  const params: SearchParams = { sort: filters.sort };
  if (filters.department) params.department = filters.department;
  if (filters.status) params.status = filters.status;
  if (filters.priority) params.priority = filters.priority;
  if (filters.overdue) params.overdue = true;
  if (cursor) params.cursor = cursor;
  return params;
}

/** The departments a user may pick in the queue: their own (staff) or every category's (admins), sorted, unique. */
export function departmentChoices(
  role: string | undefined,
  own: readonly string[] | undefined,
  categoryDepartments: readonly string[],
): string[] {
  const pool = role === "admin" ? [...categoryDepartments, ...(own ?? [])] : [...(own ?? [])];
  return [...new Set(pool)].sort();
}

// -- lifecycle -------------------------------------------------------------------------------

/** Staff (of the issue's department) or admins move an issue along these edges (rules.py). */
export const STAFF_TRANSITIONS: Partial<Record<IssueStatus, readonly IssueStatus[]>> = {
  open: ["acknowledged", "in_progress", "resolved", "rejected", "duplicate"],
  acknowledged: ["in_progress", "resolved", "rejected", "duplicate"],
  in_progress: ["resolved", "rejected", "duplicate"],
  reopened: ["acknowledged", "in_progress", "resolved", "rejected", "duplicate"],
  resolved: ["closed"],
};

/** Statuses an issue cannot be assigned in (rules.py decide_assign). */
export const UNASSIGNABLE: readonly IssueStatus[] = ["duplicate", "rejected", "withdrawn", "closed"];

export function allowedTransitions(status: IssueStatus): readonly IssueStatus[] {
  return STAFF_TRANSITIONS[status] ?? [];
}

export interface TransitionInput {
  to: IssueStatus;
  note: string;
  duplicateOf: string;
  reason: string;
}

export interface TransitionBody {
  to: IssueStatus;
  note: string;
  duplicate_of?: string;
  reason?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks a transition before sending it: the field and the i18n key of its message, or null when it is fine. */
export function transitionError(input: TransitionInput, issueId: string): { field: string; key: string } | null {
  if (input.to === "duplicate") {
    const original = input.duplicateOf.trim();
    if (!original) return { field: "duplicate_of", key: "issue.errors.duplicateRequired" };
    if (!UUID.test(original)) return { field: "duplicate_of", key: "issue.errors.duplicateInvalid" };
    if (original.toLowerCase() === issueId.toLowerCase()) return { field: "duplicate_of", key: "issue.errors.duplicateSelf" };
  }
  if (input.to === "rejected" && !input.reason.trim()) return { field: "reason", key: "issue.errors.reasonRequired" };
  return null;
}

/** The TransitionRequest body: duplicate_of only for a duplicate, reason only for a rejection. */
export function transitionBody(input: TransitionInput): TransitionBody {
  const body: TransitionBody = { to: input.to, note: input.note.trim() };
  if (input.to === "duplicate") body.duplicate_of = input.duplicateOf.trim();
  if (input.to === "rejected") body.reason = input.reason.trim();
  return body;
}

// -- bulk ---------------------------------------------------------------------------------------

export type BulkOutcome<T> = { id: string; ok: true; value: T } | { id: string; ok: false; error: unknown };

/**
 * Runs `task` once per id, at most `limit` at a time, and collects every outcome (in the ids'
 * order) without stopping at a failure. `onProgress` hears each outcome as it lands.
 */
export async function runBulk<T>(
  ids: readonly string[],
  task: (id: string) => Promise<T>,
  { limit = 4, onProgress }: { limit?: number; onProgress?: (outcome: BulkOutcome<T>) => void } = {},
): Promise<BulkOutcome<T>[]> {
  const results: BulkOutcome<T>[] = new Array<BulkOutcome<T>>(ids.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < ids.length) {
      const index = next++;
      const id = ids[index]!;
      let outcome: BulkOutcome<T>;
      try {
        outcome = { id, ok: true, value: await task(id) };
      } catch (error) {
        outcome = { id, ok: false, error };
      }
      results[index] = outcome;
      onProgress?.(outcome);
    }
  }
  const workers = Math.max(1, Math.min(limit, ids.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}

/** The ids to keep selected after a bulk action: the refused ones. */
export function refusedIds<T>(outcomes: readonly BulkOutcome<T>[]): Set<string> {
  return new Set(outcomes.filter((o) => !o.ok).map((o) => o.id));
}

// -- eventual consistency ---------------------------------------------------------------------

/**
 * After a 202: GET (via `load`) until `done` holds, every `intervalMs`, for at most `timeoutMs`.
 * Resolves with the last value read and whether the change showed.
 */
export async function pollUntil<T>(
  load: () => Promise<T>,
  done: (value: T) => boolean,
  {
    timeoutMs = 6000,
    intervalMs = 400,
    sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
    signal,
  }: { timeoutMs?: number; intervalMs?: number; sleep?: (ms: number) => Promise<void>; signal?: AbortSignal } = {},
): Promise<{ value: T | undefined; settled: boolean }> {
  const deadline = Date.now() + timeoutMs;
  let value: T | undefined;
  for (;;) {
    if (signal?.aborted) return { value: undefined, settled: false }; // the page moved on: nothing to show
    try {
      value = await load();
      if (signal?.aborted) return { value: undefined, settled: false };
      if (done(value)) return { value, settled: true };
    } catch {
      // a failed read is retried like an unchanged one
    }
    if (Date.now() + intervalMs > deadline) return { value, settled: false };
    await sleep(intervalMs);
  }
}
