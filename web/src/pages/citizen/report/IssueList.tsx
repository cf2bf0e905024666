/** The lists under /me: one card per issue with its status, category, dates and a link to its page. */
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api } from "../../../api/client";
import type { CategorySpec, IssueSummary } from "../../../api/types";
import { StatusBadge } from "../../../components/StatusBadge";
import { formatDate } from "../../../i18n/format";

export interface ListedIssue {
  id: string;
  issue: IssueSummary | null;
  /** When the user started following it (the following list). */
  since?: string;
}

export function IssueList({ items, categories }: { items: ListedIssue[]; categories: Map<string, CategorySpec> }) {
  const { t } = useTranslation("me");
  return (
    <ul className="me-list">
      {items.map(({ id, issue, since }) => (
        <li key={id}>
          <h2>
            <Link to={`/issues/${id}`}>{issue?.title ?? t("unavailable")}</Link>
          </h2>
          <p className="me-meta">
            {issue && <StatusBadge status={issue.status} />}
            {issue && (
              <span>
                {t("category")}: {categories.get(issue.category)?.name ?? issue.category}
              </span>
            )}
            {issue && (
              <span>
                {t("reported")}: <time dateTime={issue.created_at}>{formatDate(issue.created_at)}</time>
              </span>
            )}
            {since && (
              <span>
                {t("followingSince")}: <time dateTime={since}>{formatDate(since)}</time>
              </span>
            )}
            {issue?.due_at && (
              <span>
                {t("due")}: <time dateTime={issue.due_at}>{formatDate(issue.due_at)}</time>
                {issue.overdue && (
                  <strong>
                    {" "}
                    <span aria-hidden="true">⚠ </span>
                    {t("overdue")}
                  </strong>
                )}
              </span>
            )}
          </p>
        </li>
      ))}
    </ul>
  );
}

/** Category names by code (GET /v1/categories, public); empty on failure (codes are shown instead). */
export function useCategoryNames(): Map<string, CategorySpec> {
  const [map, setMap] = useState(new Map<string, CategorySpec>());
  useEffect(() => {
    const abort = new AbortController();
    api
      .get<{ items: CategorySpec[] }>("/v1/categories", { signal: abort.signal })
      .then((r) => setMap(new Map(r.items.map((c) => [c.code, c]))))
      .catch(() => undefined);
    return () => abort.abort();
  }, []);
  return map;
}
