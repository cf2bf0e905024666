import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api } from "../../api/client";
import { ProblemError } from "../../api/problem";
import type { FollowedPage, IssueSummary } from "../../api/types";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { Pager, useCursorPager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { IssueList, useCategoryNames, type ListedIssue } from "./report/IssueList";
import "./report/Report.css";

/** The followed page names issues by id: each one's summary is read (in parallel); a vanished one stays listed by id. */
export async function loadFollowed(cursor: string | undefined, signal: AbortSignal): Promise<{ items: ListedIssue[]; next: string | null }> {
  const page = await api.get<FollowedPage>("/v1/me/following", { searchParams: { cursor }, signal });
  const items = await Promise.all(
    page.items.map(async (f): Promise<ListedIssue> => {
      const id = f.issue_id;
      try {
        return { id, since: f.since, issue: await api.get<IssueSummary>(`/v1/issues/${id}`, { signal }) };
      } catch (e) {
        if (e instanceof ProblemError && e.status === 404) return { id, since: f.since, issue: null };
        throw e;
      }
    }),
  );
  return { items, next: page.next_cursor };
}

export default function FollowingPage() {
  const { t } = useTranslation("me");
  usePageTitle(t("following.title"));
  const pager = useCursorPager();
  const categories = useCategoryNames();
  const [page, setPage] = useState<{ items: ListedIssue[]; next: string | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    setError(null);
    setPage(null);
    loadFollowed(pager.cursor, abort.signal)
      .then(setPage)
      .catch((e: unknown) => !abort.signal.aborted && setError(e));
    return () => abort.abort();
  }, [pager.cursor, attempt]);

  return (
    <section className="report-page">
      <h1>{t("following.title")}</h1>
      {error ? (
        <ProblemAlert error={error} onRetry={() => setAttempt((n) => n + 1)} />
      ) : !page ? (
        <Loading />
      ) : page.items.length === 0 && pager.pageNumber === 1 ? (
        <div className="me-empty">
          <p>{t("following.empty")}</p>
          <p>
            <Link to="/">{t("following.browse")}</Link>
          </p>
        </div>
      ) : (
        <>
          <IssueList items={page.items} categories={categories} />
          <Pager pager={pager} nextCursor={page.next} label={t("following.pages")} />
        </>
      )}
    </section>
  );
}
