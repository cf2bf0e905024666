/**
 * One report (`/issues/:id`): its details, photos, a small map, the status history and public comments;
 * signed-in citizens vote, follow and comment (the buttons start as `GET /v1/issues/{id}/viewer` says);
 * the reporter reopens a resolved issue within 30 days (`?action=reopen`, the "resolved" e-mail's link,
 * focuses that button). Live events refresh it.
 * A report accepted a moment ago may 404 for a few seconds: "being processed", retried a few times.
 */
import { useCallback, useEffect, useReducer, useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useLocation, useParams, useSearchParams } from "react-router";
import { api } from "../../api/client";
import { ProblemError } from "../../api/problem";
import { useSubmitKey } from "../../api/submitKey";
import type { Accepted, CategorySpec, IssueDetail } from "../../api/types";
import { useSession } from "../../auth/session";
import { FormField } from "../../components/FormField";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { PriorityBadge, StatusBadge } from "../../components/StatusBadge";
import { useLiveEvents } from "../../components/useLiveEvents";
import { formatNumber } from "../../i18n/format";
import { useDraft } from "../../lib/draft";
import { Comments, Photos, SmallMap, Timeline, When } from "./issue/parts";
import { mayReopen, useViewerState } from "./issue/viewer";
import { issueReducer, REOPEN_WINDOW_DAYS } from "./map/state";
import "./public.css";

const MAX_ATTEMPTS = 6;
const RETRY_MS = 2000;
const SETTLE_MS = 1200; // commands apply shortly after their 202

export default function IssuePage() {
  const { id = "" } = useParams();
  const { t } = useTranslation(["issue", "common"]);
  const { user, status: sessionStatus } = useSession();
  const [searchParams] = useSearchParams();
  const location = useLocation();
  const [state, dispatch] = useReducer(issueReducer, { kind: "loading", attempt: 0 });
  const [announcement, setAnnouncement] = useState("");
  const [category, setCategory] = useState<CategorySpec | null>(null);
  const issue = state.kind === "ready" ? state.issue : null;
  usePageTitle(issue ? issue.title : t("titles.issue", { ns: "common" }));

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const found = await api.get<IssueDetail>(`/v1/issues/${encodeURIComponent(id)}`, { signal });
        dispatch({ type: "loaded", issue: found });
      } catch (e) {
        if (signal?.aborted) return;
        if (e instanceof ProblemError && e.status === 404) dispatch({ type: "missing", maxAttempts: MAX_ATTEMPTS });
        else dispatch({ type: "failed", error: e });
      }
    },
    [id],
  );

  useEffect(() => {
    dispatch({ type: "retry" });
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [load]);

  // Not there yet: try again a few times.
  const attempt = state.kind === "processing" ? state.attempt : -1;
  useEffect(() => {
    if (attempt < 0) return;
    const controller = new AbortController();
    const timer = setTimeout(() => void load(controller.signal), RETRY_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [attempt, load]);

  const categoryCode = issue?.category;
  useEffect(() => {
    if (!categoryCode) return;
    const controller = new AbortController();
    api
      .get<CategorySpec>(`/v1/categories/${encodeURIComponent(categoryCode)}`, { signal: controller.signal })
      .then(setCategory)
      .catch(() => setCategory(null));
    return () => controller.abort();
  }, [categoryCode]);

  const later = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const reloadSoon = useCallback(() => {
    clearTimeout(later.current);
    later.current = setTimeout(() => void load(), SETTLE_MS);
  }, [load]);
  useEffect(() => () => clearTimeout(later.current), []);

  useLiveEvents((e) => {
    if (e.data.issue_id !== id) return;
    if (e.event === "status_changed") {
      const to = String(e.data.to);
      setAnnouncement(t("live.statusChanged", { status: t(`status.${to}`, { ns: "common" }) }));
      void load();
    } else if (e.event === "comment") {
      setAnnouncement(t("live.comment"));
      void load();
    } else if (e.event === "report_rejected") {
      dispatch({ type: "rejected", reason: String(e.data.reason ?? "") });
      setAnnouncement(t("rejected.heading"));
    }
  });

  const live = (
    <p className="visually-hidden" role="status" aria-live="polite">
      {announcement}
    </p>
  );

  if (state.kind === "loading") return <Loading />;
  if (state.kind === "processing")
    return (
      <section>
        <h1>{t("processing.heading")}</h1>
        <Loading label={t("processing.body")} />
        {live}
      </section>
    );
  if (state.kind === "rejected")
    return (
      <section>
        <h1>{t("rejected.heading")}</h1>
        <p role="alert">{state.reason || t("rejected.noReason")}</p>
        <p>
          <Link to="/report">{t("rejected.again")}</Link>
        </p>
      </section>
    );
  if (state.kind === "notFound")
    return (
      <section>
        <h1>{t("notFound.heading")}</h1>
        <p>{t("notFound.body")}</p>
        <p>
          <Link to="/">{t("backToMap")}</Link>
        </p>
      </section>
    );
  if (state.kind === "error")
    return (
      <section>
        <h1>{t("titles.issue", { ns: "common" })}</h1>
        <ProblemAlert error={state.error} />
        <button type="button" onClick={() => (dispatch({ type: "retry" }), void load())}>
          {t("buttons.retry", { ns: "common" })}
        </button>
      </section>
    );

  const detail = state.issue;
  const userId = user?.id ?? null;
  const signedIn = sessionStatus === "signedIn";
  const wantsReopen = searchParams.get("action") === "reopen";
  const next = encodeURIComponent(`${location.pathname}${location.search}`);

  return (
    <article>
      <div className="issue-head">
        <h1>{detail.title}</h1>
        <StatusBadge status={detail.status} />
        {detail.overdue && <span className="badge priority-high">{t("overdue")}</span>}
      </div>
      {live}
      <dl className="issue-details">
        <dt>{t("fields.category")}</dt>
        <dd>{category?.name ?? detail.category}</dd>
        <dt>{t("fields.priority")}</dt>
        <dd>
          <PriorityBadge priority={detail.priority} />
        </dd>
        <dt>{t("fields.location")}</dt>
        <dd>
          {detail.address ? `${detail.address} · ` : ""}
          {formatNumber(detail.lat, undefined, { maximumFractionDigits: 5 })},{" "}
          {formatNumber(detail.lon, undefined, { maximumFractionDigits: 5 })}
        </dd>
        <dt>{t("fields.created")}</dt>
        <dd>
          <When at={detail.created_at} />
        </dd>
        {detail.updated_at && (
          <>
            <dt>{t("fields.updated")}</dt>
            <dd>
              <When at={detail.updated_at} />
            </dd>
          </>
        )}
        {detail.due_at && (
          <>
            <dt>{t("fields.due")}</dt>
            <dd>
              <When at={detail.due_at} />
            </dd>
          </>
        )}
        {detail.resolved_at && (
          <>
            <dt>{t("fields.resolved")}</dt>
            <dd>
              <When at={detail.resolved_at} />
            </dd>
          </>
        )}
        <dt>{t("fields.votes")}</dt>
        <dd>{formatNumber(detail.votes)}</dd>
        <dt>{t("fields.followers")}</dt>
        <dd>{formatNumber(detail.followers)}</dd>
      </dl>

      <h2>{t("description")}</h2>
      <p style={{ whiteSpace: "pre-wrap" }}>{detail.description}</p>

      {signedIn ? (
        <Actions key={detail.id} issue={detail} userId={userId} onChanged={reloadSoon} wantsReopen={wantsReopen} />
      ) : (
        <p>
          <Link to={`/signin?next=${next}`}>{t("signInToAct")}</Link>
        </p>
      )}

      <Photos photos={detail.photos} title={detail.title} />

      <section aria-labelledby="issue-where">
        <h2 id="issue-where">{t("where")}</h2>
        <SmallMap lat={detail.lat} lon={detail.lon} status={detail.status} label={t("mapLabel", { title: detail.title })} />
      </section>

      <Timeline history={detail.history} createdAt={detail.created_at} />

      <section aria-labelledby="issue-comments">
        <h2 id="issue-comments">{t("comments.heading")}</h2>
        {detail.comments.length === 0 ? <p>{t("comments.none")}</p> : <Comments comments={detail.comments} userId={userId} />}
        {/* keyed: another issue's page starts with its own draft and keys */}
        {signedIn && <CommentForm key={detail.id} issueId={detail.id} onPosted={reloadSoon} />}
      </section>
    </article>
  );
}

function Actions({
  issue,
  userId,
  onChanged,
  wantsReopen,
}: {
  issue: IssueDetail;
  userId: string | null;
  onChanged: () => void;
  wantsReopen: boolean;
}) {
  const { t } = useTranslation(["issue", "common"]);
  const path = `/v1/issues/${issue.id}`;
  // Whether I voted for it, follow it, reported it: read once; after a 202 the buttons show what I asked.
  const [viewer, setViewer] = useViewerState(issue.id);
  const voted = viewer?.voted ?? false;
  const following = viewer?.following ?? false;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [message, setMessage] = useState("");
  const voteKeys = useSubmitKey();
  const reopenKeys = useSubmitKey();
  const [reopenDraft, setReopenDraft, clearReopenDraft] = useDraft(`issue.${issue.id}.reopen`, { note: "" });
  const reopenNote = reopenDraft.note;
  const setReopenNote = (note: string) => setReopenDraft({ note });
  const reopenButton = useRef<HTMLButtonElement>(null);
  const reopenable = mayReopen(issue, userId, viewer);

  useEffect(() => {
    if (wantsReopen && reopenable && reopenButton.current) {
      reopenButton.current.scrollIntoView?.({ block: "center" }); // absent in jsdom
      reopenButton.current.focus();
    }
  }, [wantsReopen, reopenable]);

  async function run(action: () => Promise<unknown>, done: string, after?: () => void) {
    setBusy(true);
    setError(null);
    try {
      await action();
      after?.();
      setMessage(done);
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const vote = () =>
    voted
      ? run(() => api.delete<Accepted>(`${path}/vote`), t("actions.unvoted"), () => setViewer({ voted: false }))
      : run(
          () => voteKeys.send<Accepted>("POST", `${path}/vote`),
          t("actions.voted"),
          () => setViewer({ voted: true }),
        );
  const follow = () =>
    following
      ? run(() => api.delete<Accepted>(`${path}/follow`), t("actions.unfollowed"), () => setViewer({ following: false }))
      : run(() => api.put<Accepted>(`${path}/follow`), t("actions.followed"), () => setViewer({ following: true }));
  const reopen = () =>
    run(
      () => reopenKeys.send<Accepted>("POST", `${path}/transitions`, { json: { to: "reopened", note: reopenNote } }),
      t("reopen.done"),
      clearReopenDraft,
    );

  return (
    <section aria-label={t("actions.label")}>
      <div className="issue-actions">
        <button type="button" aria-pressed={voted} disabled={busy || viewer === null} onClick={() => void vote()}>
          <span aria-hidden="true">{voted ? "▲ " : "△ "}</span>
          {voted ? t("actions.voted") : t("buttons.vote", { ns: "common" })}
        </button>
        <button type="button" aria-pressed={following} disabled={busy || viewer === null} onClick={() => void follow()}>
          <span aria-hidden="true">{following ? "★ " : "☆ "}</span>
          {following ? t("actions.following") : t("buttons.follow", { ns: "common" })}
        </button>
      </div>
      {reopenable && (
        <div className="issue-reopen">
          {wantsReopen && <p id="reopen-why">{t("reopen.explain", { days: REOPEN_WINDOW_DAYS })}</p>}
          <FormField label={t("reopen.note")} name="note" error={error}>
            <input value={reopenNote} maxLength={2000} onChange={(e) => setReopenNote(e.target.value)} />
          </FormField>
          <button
            ref={reopenButton}
            type="button"
            disabled={busy}
            aria-describedby={wantsReopen ? "reopen-why" : undefined}
            onClick={() => void reopen()}
          >
            {t("reopen.button")}
          </button>
        </div>
      )}
      {!reopenable && wantsReopen && <p>{t("reopen.notAllowed", { days: REOPEN_WINDOW_DAYS })}</p>}
      <ProblemAlert error={error} />
      <p role="status" aria-live="polite">
        {message}
      </p>
    </section>
  );
}

function CommentForm({ issueId, onPosted }: { issueId: string; onPosted: () => void }) {
  const { t } = useTranslation(["issue", "common"]);
  // Kept per issue in sessionStorage: the text survives a session that ends mid-comment.
  const [draft, setDraft, clearDraft] = useDraft(`issue.${issueId}.comment`, { body: "" });
  const body = draft.body;
  const setBody = (text: string) => setDraft({ body: text });
  const keys = useSubmitKey();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState("");

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!body.trim()) return;
    setBusy(true);
    setError(null);
    try {
      await keys.send<Accepted>("POST", `/v1/issues/${issueId}/comments`, { json: { body } });
      clearDraft();
      setSent(t("comments.sent"));
      onPosted();
    } catch (err) {
      setError(err); // the same key only for the same comment after an unknown outcome (api/submitKey.ts)
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="issue-comment-form" onSubmit={(e) => void submit(e)} noValidate>
      <ProblemAlert error={error} fieldLabels={{ body: t("comments.label") }} />
      <FormField label={t("comments.label")} name="body" error={error}>
        <textarea value={body} maxLength={2000} required onChange={(e) => setBody(e.target.value)} />
      </FormField>
      <button type="submit" disabled={busy || !body.trim()}>
        {t("comments.submit")}
      </button>
      <p role="status" aria-live="polite">
        {sent}
      </p>
    </form>
  );
}
