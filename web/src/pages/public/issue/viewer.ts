/**
 * What the signed-in viewer has done about one issue (`GET /v1/issues/{id}/viewer`): voted, follows,
 * reported it. Kept apart from the issue's detail, which is the same for everyone and cached by ETag.
 */
import { useCallback, useEffect, useState } from "react";
import { api } from "../../../api/client";
import type { IssueDetail, ViewerState } from "../../../api/types";
import { canReopen } from "../map/state";

/** When the state cannot be read: act as if nothing was done (a second vote or follow is harmless). */
export const NOTHING_DONE: ViewerState = { voted: false, following: false, is_reporter: false };

export function viewerPath(issueId: string): string {
  return `/v1/issues/${encodeURIComponent(issueId)}/viewer`;
}

/** The viewer's state of an issue (null until read) and a setter for what the viewer just changed. */
export function useViewerState(issueId: string): [ViewerState | null, (change: Partial<ViewerState>) => void] {
  const [state, setState] = useState<ViewerState | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    setState(null);
    api
      .get<ViewerState>(viewerPath(issueId), { signal: controller.signal })
      .then(setState)
      .catch(() => {
        if (!controller.signal.aborted) setState(NOTHING_DONE);
      });
    return () => controller.abort();
  }, [issueId]);
  const change = useCallback((part: Partial<ViewerState>) => setState((s) => ({ ...(s ?? NOTHING_DONE), ...part })), []);
  return [state, change];
}

/** May this viewer reopen the issue: its reporter (by id, or as the API says) within the window. */
export function mayReopen(
  issue: Pick<IssueDetail, "status" | "reporter_id" | "resolved_at">,
  userId: string | null,
  viewer: ViewerState | null,
  now: Date = new Date(),
): boolean {
  if (canReopen(issue, userId, now)) return true;
  return Boolean(viewer?.is_reporter && userId) && canReopen({ ...issue, reporter_id: userId }, userId, now);
}
