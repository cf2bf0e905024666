import type { NewEndpoint } from "../../../api/types";

export type EventType = NewEndpoint["event_types"][number];
export const EVENT_TYPES: Exclude<EventType, "*">[] = [
  "IssueReported",
  "IssueStatusChanged",
  "IssueCommented",
  "IssueAssigned",
  "IssueVoted",
  "IssueEdited",
];

/** The POST body: all events as ["*"], else the ticked types in a stable order. */
export function newEndpointBody(form: { url: string; all: boolean; types: string[]; description: string }): NewEndpoint {
  const event_types: EventType[] = form.all ? ["*"] : EVENT_TYPES.filter((e) => form.types.includes(e));
  return { url: form.url.trim(), event_types, description: form.description.trim() };
}

/** "200", "timeout" and the like: what the receiver answered to one attempt. */
export function attemptOutcome(a: { status_code?: number | null; error?: string | null }): string {
  if (a.status_code != null) return String(a.status_code);
  return a.error ?? "—";
}
