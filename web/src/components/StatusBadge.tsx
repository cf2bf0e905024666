import { useTranslation } from "react-i18next";
import type { IssueStatus, Priority } from "../api/types";

/** An icon per status, so the state never depends on colour alone. */
export const STATUS_ICONS: Record<IssueStatus, string> = {
  open: "●",
  acknowledged: "◉",
  in_progress: "◔",
  resolved: "✔",
  closed: "■",
  rejected: "✖",
  duplicate: "⧉",
  reopened: "↺",
  withdrawn: "⊘",
};

export function StatusBadge({ status }: { status: IssueStatus }) {
  const { t } = useTranslation();
  return (
    <span className={`badge status-${status}`}>
      <span aria-hidden="true">{STATUS_ICONS[status] ?? "•"} </span>
      {t(`status.${status}`)}
    </span>
  );
}

const PRIORITY_ICONS: Record<Priority, string> = { low: "▽", normal: "◇", high: "▲", urgent: "‼" };

export function PriorityBadge({ priority }: { priority: Priority }) {
  const { t } = useTranslation();
  return (
    <span className={`badge priority-${priority}`}>
      <span aria-hidden="true">{PRIORITY_ICONS[priority] ?? "•"} </span>
      {t(`priority.${priority}`)}
    </span>
  );
}
