import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api } from "../../api/client";
import type { Page } from "../../api/types";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { Pager, useCursorPager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { IssueList, useCategoryNames } from "./report/IssueList";
import "./report/Report.css";

export default function MyReportsPage() {
  const { t } = useTranslation("me");
  usePageTitle(t("reports.title"));
  const pager = useCursorPager();
  const categories = useCategoryNames();
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    setError(null);
    setPage(null);
    api
      .get<Page>("/v1/me/issues", { searchParams: { cursor: pager.cursor }, signal: abort.signal })
      .then(setPage)
      .catch((e: unknown) => !abort.signal.aborted && setError(e));
    return () => abort.abort();
  }, [pager.cursor, attempt]);

  return (
    <section className="report-page">
      <h1>{t("reports.title")}</h1>
      {error ? (
        <ProblemAlert error={error} onRetry={() => setAttempt((n) => n + 1)} />
      ) : !page ? (
        <Loading />
      ) : page.items.length === 0 && pager.pageNumber === 1 ? (
        <div className="me-empty">
          <p>{t("reports.empty")}</p>
          <p>
            <Link className="button" to="/report">
              {t("reports.reportOne")}
            </Link>
          </p>
        </div>
      ) : (
        <>
          <IssueList items={page.items.map((issue) => ({ id: issue.id, issue }))} categories={categories} />
          <Pager pager={pager} nextCursor={page.next_cursor} label={t("reports.pages")} />
        </>
      )}
    </section>
  );
}
