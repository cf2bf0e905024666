import { useEffect, useState } from "react";
import { api } from "../../../api/client";
import type { components } from "../../../api/schema";

/** One entry of GET /v1/staff/directory: an id and a name (no contact data). */
export type StaffMember = components["schemas"]["StaffMember"];
type StaffDirectory = components["schemas"]["StaffDirectory"];

/** The department to assign within: the one chosen, else the user's only department, else none yet. */
export function assignDepartment(chosen: string, choices: readonly string[]): string {
  if (chosen) return chosen;
  return choices.length === 1 ? choices[0]! : "";
}

/** The staff one may assign to: everyone of the directory but oneself ("Assign to me" does that). */
export function colleagues(staff: readonly StaffMember[], selfId: string | undefined): StaffMember[] {
  return staff.filter((m) => m.id !== selfId);
}

/** What to show for an assignee: "you", their name from the directory, or their id when it has none. */
export function assigneeLabel(
  assigneeId: string,
  staff: readonly StaffMember[],
  selfId: string | undefined,
  you: string,
): string {
  if (assigneeId === selfId) return you;
  return staff.find((m) => m.id === assigneeId)?.display_name ?? assigneeId;
}

/** Option labels: a name that two people share gets the start of the id, so each option is told apart. */
export function optionLabels(staff: readonly StaffMember[]): Map<string, string> {
  const counts = new Map<string, number>();
  for (const m of staff) counts.set(m.display_name, (counts.get(m.display_name) ?? 0) + 1);
  return new Map(
    staff.map((m) => [m.id, (counts.get(m.display_name) ?? 0) > 1 ? `${m.display_name} (${m.id.slice(-6)})` : m.display_name]),
  );
}

/** GET /v1/staff/directory for the department (nothing while it is empty), again when it changes. */
export function useStaffDirectory(department: string | null | undefined): {
  staff: StaffMember[];
  error: unknown;
  loaded: boolean;
} {
  const [state, setState] = useState<{ for: string; staff: StaffMember[]; error: unknown; loaded: boolean }>({
    for: "",
    staff: [],
    error: null,
    loaded: false,
  });
  useEffect(() => {
    if (!department) return;
    const controller = new AbortController();
    api
      .get<StaffDirectory>("/v1/staff/directory", { searchParams: { department }, signal: controller.signal })
      .then((d) => setState({ for: department, staff: d.items, error: null, loaded: true }))
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        setState({ for: department, staff: [], error: e, loaded: true });
      });
    return () => controller.abort();
  }, [department]);
  // Another department's answer is not this one's.
  return state.for === department && department
    ? { staff: state.staff, error: state.error, loaded: state.loaded }
    : { staff: [], error: null, loaded: false };
}
