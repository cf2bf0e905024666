import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api } from "../../api/client";
import { useSubmitKey } from "../../api/submitKey";
import type { FeedPage, NotificationItem } from "../../api/types";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { Pager, useCursorPager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { formatDateTime, formatNumber, formatRelative } from "../../i18n/format";
import { issuePath, markAllRead, markOneRead } from "./notify/logic";
import "./notify/notify.css";

const PAGE_SIZE = 20;

/** The in-app notifications, newest first: unread ones marked in words, mark one or all read, paged. */
export default function NotificationsPage() {
  const { t } = useTranslation(["notify", "common"]);
  usePageTitle(t("titles.notifications", { ns: "common" }));
  const pager = useCursorPager();
  const [page, setPage] = useState<FeedPage | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const [busy, setBusy] = useState<string | null>(null);
  const [announce, setAnnounce] = useState("");
  // "Mark all read" keeps its key only across retries whose outcome is unknown (api/submitKey.ts).
  const allKeys = useSubmitKey();

  useEffect(() => {
    const abort = new AbortController();
    setLoadError(null);
    setPage(null);
    api
      .get<FeedPage>("/v1/me/notifications", {
        searchParams: { cursor: pager.cursor, limit: PAGE_SIZE },
        signal: abort.signal,
      })
      .then(setPage)
      .catch((e: unknown) => !abort.signal.aborted && setLoadError(e));
    return () => abort.abort();
  }, [pager.cursor, attempt]);

  async function readOne(item: NotificationItem) {
    setBusy(item.id);
    setError(null);
    try {
      await api.post(`/v1/me/notifications/${encodeURIComponent(item.id)}/read`);
      setPage((p) => (p ? markOneRead(p, item.id) : p));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  }

  async function readAll() {
    setBusy("all");
    setError(null);
    try {
      await allKeys.send("POST", "/v1/me/notifications/read-all");
      setPage((p) => (p ? markAllRead(p) : p));
      setAnnounce(t("feed.markedAll"));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  }

  return (
    <section className="notify-page">
      <h1>{t("titles.notifications", { ns: "common" })}</h1>
      <p>
        <Link to="/me/settings">{t("feed.settings")}</Link>
      </p>
      <p className="visually-hidden" role="status">
        {announce}
      </p>
      {loadError ? (
        <ProblemAlert error={loadError} onRetry={() => setAttempt((n) => n + 1)} />
      ) : !page ? (
        <Loading />
      ) : page.items.length === 0 && pager.pageNumber === 1 ? (
        <p>{t("feed.empty")}</p>
      ) : (
        <>
          <div className="notify-toolbar">
            <p className="notify-count">
              {page.unread > 0 ? t("feed.unreadCount", { count: page.unread, formatted: formatNumber(page.unread) }) : t("feed.allRead")}
            </p>
            {page.unread > 0 && (
              <button type="button" onClick={() => void readAll()} disabled={busy !== null}>
                {t("feed.markAllRead")}
              </button>
            )}
          </div>
          <ProblemAlert error={error} />
          <ul className="notify-feed" aria-label={t("feed.list")}>
            {page.items.map((item) => {
              const to = issuePath(item.issue_id);
              return (
                <li key={item.id} className={item.read ? "notify-item" : "notify-item notify-unread"}>
                  <p className="notify-state">
                    {item.read ? (
                      <span className="badge notify-badge-read">{t("feed.read")}</span>
                    ) : (
                      <span className="badge notify-badge-unread">
                        <span aria-hidden="true">● </span>
                        {t("feed.unread")}
                      </span>
                    )}{" "}
                    <time dateTime={item.created_at} title={formatDateTime(item.created_at)}>
                      {formatRelative(item.created_at)}
                    </time>
                  </p>
                  <h2 className="notify-title">{item.title}</h2>
                  <p className="notify-body">{item.body}</p>
                  <div className="notify-actions">
                    {to && (
                      <Link to={to} aria-label={t("feed.openIssueNamed", { title: item.title })}>
                        {t("feed.openIssue")}
                      </Link>
                    )}
                    {!item.read && (
                      <button
                        type="button"
                        onClick={() => void readOne(item)}
                        disabled={busy !== null}
                        aria-label={t("feed.markReadNamed", { title: item.title })}
                      >
                        {t("feed.markRead")}
                      </button>
                    )}
                  </div>
                </li>
              );
            })}
          </ul>
          <Pager pager={pager} nextCursor={page.next_cursor} label={t("feed.pages")} />
        </>
      )}
    </section>
  );
}
