import { useCallback, useEffect, useId, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import { api } from "../../api/client";
import { ProblemError } from "../../api/problem";
import type { Accepted, IssueDetail, IssueStatus, Priority } from "../../api/types";
import { useSession } from "../../auth/session";
import { FormField } from "../../components/FormField";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { PriorityBadge, StatusBadge } from "../../components/StatusBadge";
import { formatDateTime, formatRelative } from "../../i18n/format";
import { useDraft } from "../../lib/draft";
import { CannedPicker } from "./issue/CannedPicker";
import { cannedResponsesOf, useStaffCategories } from "./queue/categories";
import { assigneeLabel, colleagues, optionLabels, useStaffDirectory } from "./queue/directory";
import {
  allowedTransitions,
  pollUntil,
  PRIORITIES,
  transitionBody,
  transitionError,
  UNASSIGNABLE,
} from "./queue/logic";
import { useAction } from "./queue/useAction";
import "./staff.css";

type SaveState = "idle" | "saving" | "saved" | "pending";

function When({ at }: { at: string }) {
  return (
    <time dateTime={at}>
      {formatDateTime(at)} ({formatRelative(at)})
    </time>
  );
}

/**
 * One issue per mounted page: the route element is reused when `:id` changes (the duplicate-of link),
 * so the page is keyed by id and nothing (fields, keys, a poll running) carries over to another issue.
 */
export default function StaffIssuePage() {
  const { id = "" } = useParams();
  return <StaffIssue key={id} id={id} />;
}

/** The drafts of one issue's forms (sessionStorage, per issue): typed text survives a session that ends. */
const STATUS_DRAFT = { note: "", duplicateOf: "", reason: "" };
const COMMENT_DRAFT = { body: "", internal: false };
const staffDraftKeys = (id: string) => ({ status: `staff.issue.${id}.status`, comment: `staff.issue.${id}.comment` });

function StaffIssue({ id }: { id: string }) {
  const { t } = useTranslation(["staff", "common"]);
  const { user } = useSession();
  const [issue, setIssue] = useState<IssueDetail | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [save, setSave] = useState<SaveState>("idle");
  const { categories } = useStaffCategories();
  usePageTitle(issue?.title ?? t("titles.staffIssue", { ns: "common" }));
  const ids = useId();

  const load = useCallback(() => api.get<IssueDetail>(`/v1/issues/${id}`), [id]);
  useEffect(() => {
    let alive = true;
    setIssue(null);
    setLoadError(null);
    load()
      .then((i) => alive && setIssue(i))
      .catch((e: unknown) => alive && setLoadError(e));
    return () => {
      alive = false;
    };
  }, [load]);

  // Polls stop when the page leaves this issue; a late answer about another issue is never shown.
  const polls = useRef(new AbortController());
  useEffect(() => {
    const controller = new AbortController();
    polls.current = controller;
    return () => controller.abort();
  }, []);

  /** After a 202: poll until the change shows; "Saved", or "Still processing" when it takes longer. */
  const settle = useCallback(
    async (done: (i: IssueDetail) => boolean) => {
      const signal = polls.current.signal;
      setSave("saving");
      const { value, settled } = await pollUntil(load, done, { signal });
      if (signal.aborted) return;
      if (value && value.id === id) setIssue(value);
      setSave(settled ? "saved" : "pending");
    },
    [load, id],
  );

  const category = categories.find((c) => c.code === issue?.category);
  const canned = cannedResponsesOf(category);

  // -- status ---------------------------------------------------------------------------------
  const transition = useAction();
  const drafts = staffDraftKeys(id);
  const [statusDraft, setStatusDraft, clearStatusDraft] = useDraft(drafts.status, STATUS_DRAFT);
  const { note, duplicateOf, reason } = statusDraft;
  const setNote = (note: string) => setStatusDraft((d) => ({ ...d, note }));
  const setDuplicateOf = (duplicateOf: string) => setStatusDraft((d) => ({ ...d, duplicateOf }));
  const setReason = (reason: string) => setStatusDraft((d) => ({ ...d, reason }));
  const [localError, setLocalError] = useState<{ field: string; message: string } | null>(null);
  // Bumped after each sent change: the canned-response pickers start over with their emptied fields.
  const [sent, setSent] = useState(0);
  const moves = issue ? allowedTransitions(issue.status) : [];

  async function move(to: IssueStatus) {
    if (!issue) return;
    const input = { to, note, duplicateOf, reason };
    const invalid = transitionError(input, issue.id);
    if (invalid) {
      setLocalError({ field: invalid.field, message: t(invalid.key) });
      return;
    }
    setLocalError(null);
    const body = transitionBody(input);
    const accepted = await transition.run<Accepted>("POST", `/v1/issues/${issue.id}/transitions`, body);
    if (accepted === undefined) return;
    clearStatusDraft();
    setSent((n) => n + 1);
    await settle((i) => i.status === to);
  }
  const transitionFieldError = (field: string) =>
    localError?.field === field
      ? localError.message
      : transition.error instanceof ProblemError
        ? transition.error.fieldError(field)
        : undefined;

  // -- priority and assignment ------------------------------------------------------------------
  const assignment = useAction();
  const [priority, setPriority] = useState<Priority | "">("");
  const [assignee, setAssignee] = useState("");
  const assignable = issue ? !UNASSIGNABLE.includes(issue.status) : false;
  // The issue's department's staff: names for the assignee and whom to assign to.
  const directory = useStaffDirectory(issue?.department);
  const others = useMemo(() => colleagues(directory.staff, user?.id), [directory.staff, user]);
  const labels = useMemo(() => optionLabels(others), [others]);
  const chosen = others.some((m) => m.id === assignee && m.id !== issue?.assignee_id) ? assignee : "";

  async function assign(body: { priority?: Priority; assignee_id?: string }) {
    if (!issue) return;
    const accepted = await assignment.run<Accepted>("POST", `/v1/issues/${issue.id}/assignment`, body);
    if (accepted === undefined) return;
    if (body.assignee_id) setAssignee("");
    await settle(
      (i) =>
        (body.priority === undefined || i.priority === body.priority) &&
        (body.assignee_id === undefined || i.assignee_id === body.assignee_id),
    );
  }

  // -- comments ----------------------------------------------------------------------------------
  const comment = useAction();
  const [commentDraft, setCommentDraft, clearCommentDraft] = useDraft(drafts.comment, COMMENT_DRAFT);
  const { body: commentBody, internal } = commentDraft;
  const setCommentBody = (body: string) => setCommentDraft((d) => ({ ...d, body }));
  const setInternal = (internal: boolean) => setCommentDraft((d) => ({ ...d, internal }));

  async function sendComment() {
    if (!issue || !commentBody.trim()) return;
    const body = { body: commentBody.trim(), internal };
    const accepted = await comment.run<Accepted>("POST", `/v1/issues/${issue.id}/comments`, body);
    if (accepted === undefined) return;
    clearCommentDraft();
    setSent((n) => n + 1);
    await settle((i) => i.comments.some((c) => c.id === accepted.id));
  }

  const comments = useMemo(() => issue?.comments ?? [], [issue]);

  if (loadError)
    return (
      <section>
        <h1>{t("titles.staffIssue", { ns: "common" })}</h1>
        <ProblemAlert error={loadError} />
        <p>
          <Link to="/staff">{t("issue.backToQueue")}</Link>
        </p>
      </section>
    );
  if (!issue) return <Loading />;

  const busy = transition.busy || assignment.busy || comment.busy || save === "saving";

  return (
    <article className="staff-issue">
      <p>
        <Link to="/staff">
          <span aria-hidden="true">← </span>
          {t("issue.backToQueue")}
        </Link>
      </p>
      <h1>{issue.title}</h1>
      <p className="staff-badges">
        <StatusBadge status={issue.status} /> <PriorityBadge priority={issue.priority} />{" "}
        {issue.overdue && (
          <span className="overdue">
            <span aria-hidden="true">⏰ </span>
            {t("queue.overdue")}
          </span>
        )}
      </p>
      <div className="save-state" role="status" aria-live="polite">
        {save === "saving" && t("issue.saving")}
        {save === "saved" && (
          <>
            <span aria-hidden="true">✔ </span>
            {t("issue.saved")}
          </>
        )}
        {save === "pending" && t("issue.stillProcessing")}
      </div>

      <dl className="staff-facts">
        <dt>{t("issue.category")}</dt>
        <dd>{category?.name ?? issue.category}</dd>
        <dt>{t("issue.department")}</dt>
        <dd>{issue.department ?? t("issue.none")}</dd>
        <dt>{t("issue.assignee")}</dt>
        <dd>
          {issue.assignee_id
            ? assigneeLabel(issue.assignee_id, directory.staff, user?.id, t("issue.you"))
            : t("issue.unassigned")}
        </dd>
        <dt>{t("issue.reported")}</dt>
        <dd>
          <When at={issue.created_at} />
        </dd>
        <dt>{t("issue.due")}</dt>
        <dd>{issue.due_at ? <When at={issue.due_at} /> : t("issue.none")}</dd>
        <dt>{t("issue.place")}</dt>
        <dd>{issue.address ?? `${issue.lat.toFixed(5)}, ${issue.lon.toFixed(5)}`}</dd>
        <dt>{t("issue.votes")}</dt>
        <dd>{issue.votes}</dd>
        <dt>{t("issue.id")}</dt>
        <dd>
          <code>{issue.id}</code>
        </dd>
      </dl>
      {issue.description && <p className="staff-description">{issue.description}</p>}
      {Object.keys(issue.attributes).length > 0 && (
        <dl className="staff-facts">
          {Object.entries(issue.attributes).map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{String(v)}</dd>
            </div>
          ))}
        </dl>
      )}
      {issue.photos.some((p) => p.urls) && (
        <ul className="staff-photos" aria-label={t("issue.photos")}>
          {issue.photos
            .filter((p) => p.urls)
            .map((p, n) => {
              const urls = p.urls ?? {};
              const src = urls.thumb ?? urls.medium ?? Object.values(urls)[0];
              return src ? (
                <li key={p.id}>
                  <a href={urls.large ?? src}>
                    <img src={src} alt={t("issue.photo", { n: n + 1 })} loading="lazy" />
                  </a>
                </li>
              ) : null;
            })}
        </ul>
      )}

      <section aria-labelledby={`${ids}-status`} className="staff-panel">
        <h2 id={`${ids}-status`}>{t("issue.changeStatus")}</h2>
        {moves.length === 0 ? (
          <p>{t("issue.noMoves")}</p>
        ) : (
          <>
            <FormField label={t("issue.note")} hint={t("issue.noteHint")} name="note" error={transition.error}>
              <textarea value={note} maxLength={2000} rows={3} onChange={(e) => setNote(e.target.value)} />
            </FormField>
            <CannedPicker key={`note-${sent}`} responses={canned} onPick={setNote} label={t("issue.cannedForNote")} />
            {moves.includes("duplicate") && (
              <FormField
                label={t("issue.duplicateOf")}
                hint={t("issue.duplicateOfHint")}
                name="duplicate_of"
                error={transitionFieldError("duplicate_of")}
              >
                <input value={duplicateOf} onChange={(e) => setDuplicateOf(e.target.value)} autoComplete="off" />
              </FormField>
            )}
            {moves.includes("rejected") && (
              <FormField
                label={t("issue.reason")}
                hint={t("issue.reasonHint")}
                name="reason"
                error={transitionFieldError("reason")}
              >
                <textarea value={reason} maxLength={2000} rows={2} onChange={(e) => setReason(e.target.value)} />
              </FormField>
            )}
            <div className="staff-moves">
              {moves.map((to) => (
                <button key={to} type="button" disabled={busy} onClick={() => void move(to)}>
                  {t(`issue.moveTo.${to}`)}
                </button>
              ))}
            </div>
            <ProblemAlert
              error={transition.error}
              fieldLabels={{ note: t("issue.note"), duplicate_of: t("issue.duplicateOf"), reason: t("issue.reason") }}
            />
          </>
        )}
      </section>

      <section aria-labelledby={`${ids}-assign`} className="staff-panel">
        <h2 id={`${ids}-assign`}>{t("issue.assignment")}</h2>
        {!assignable ? (
          <p>{t("issue.notAssignable")}</p>
        ) : (
          <>
            <div className="staff-row">
              <div className="field">
                <label htmlFor={`${ids}-priority`}>{t("issue.priority")}</label>
                <select
                  id={`${ids}-priority`}
                  value={priority || issue.priority}
                  onChange={(e) => setPriority(e.target.value as Priority)}
                >
                  {PRIORITIES.map((p) => (
                    <option key={p} value={p}>
                      {t(`priority.${p}`, { ns: "common" })}
                    </option>
                  ))}
                </select>
              </div>
              <button
                type="button"
                disabled={busy || !priority || priority === issue.priority}
                onClick={() => priority && void assign({ priority })}
              >
                {t("issue.savePriority")}
              </button>
            </div>
            <div className="staff-row">
              <button
                type="button"
                disabled={busy || !user || issue.assignee_id === user.id}
                onClick={() => user && void assign({ assignee_id: user.id })}
              >
                {t("issue.assignToMe")}
              </button>
            </div>
            <div className="staff-row">
              <div className="field">
                <label htmlFor={`${ids}-assignee`}>{t("bulk.assignee")}</label>
                <p id={`${ids}-assignee-hint`} className="hint">
                  {!issue.department
                    ? t("issue.noDepartmentStaff")
                    : directory.loaded && others.length === 0 && !directory.error
                      ? t("bulk.noColleagues", { department: issue.department })
                      : t("bulk.assigneeHint", { department: issue.department })}
                </p>
                <select
                  id={`${ids}-assignee`}
                  aria-describedby={`${ids}-assignee-hint`}
                  value={chosen}
                  disabled={others.length === 0}
                  onChange={(e) => setAssignee(e.target.value)}
                >
                  <option value="">{t("bulk.chooseAssignee")}</option>
                  {others.map((m) => (
                    <option key={m.id} value={m.id} disabled={m.id === issue.assignee_id}>
                      {labels.get(m.id)}
                    </option>
                  ))}
                </select>
              </div>
              <button type="button" disabled={busy || !chosen} onClick={() => void assign({ assignee_id: chosen })}>
                {t("bulk.assignTo")}
              </button>
            </div>
            <ProblemAlert error={directory.error} />
            <ProblemAlert error={assignment.error} />
          </>
        )}
      </section>

      <section aria-labelledby={`${ids}-history`} className="staff-panel">
        <h2 id={`${ids}-history`}>{t("issue.history")}</h2>
        {issue.history.length === 0 ? (
          <p>{t("issue.noHistory")}</p>
        ) : (
          <ol className="staff-history">
            {issue.history.map((h, n) => (
              <li key={`${h.at}-${n}`}>
                <When at={h.at} />: <StatusBadge status={h.from} /> <span aria-hidden="true">→</span>
                <span className="visually-hidden">{t("issue.to")}</span> <StatusBadge status={h.to} />
                {h.note && <p>{h.note}</p>}
                {h.reason && (
                  <p>
                    {t("issue.reason")}: {h.reason}
                  </p>
                )}
                {h.duplicate_of && (
                  <p>
                    {t("issue.duplicateOf")}: <Link to={`/staff/issues/${h.duplicate_of}`}>{h.duplicate_of}</Link>
                  </p>
                )}
              </li>
            ))}
          </ol>
        )}
      </section>

      <section aria-labelledby={`${ids}-comments`} className="staff-panel">
        <h2 id={`${ids}-comments`}>{t("issue.comments")}</h2>
        {comments.length === 0 ? (
          <p>{t("issue.noComments")}</p>
        ) : (
          <ol className="staff-comments">
            {comments.map((c) => (
              <li key={c.id} className={c.internal ? "comment-internal" : undefined}>
                <p className="comment-meta">
                  <When at={c.created_at} />
                  {c.internal && (
                    <>
                      {" "}
                      <span className="badge internal-badge">
                        <span aria-hidden="true">🔒 </span>
                        {t("issue.internal")}
                      </span>
                    </>
                  )}
                </p>
                <p className="comment-body">{c.body}</p>
              </li>
            ))}
          </ol>
        )}
        <form
          className="staff-comment-form"
          onSubmit={(e) => {
            e.preventDefault();
            void sendComment();
          }}
        >
          <CannedPicker key={`comment-${sent}`} responses={canned} onPick={setCommentBody} label={t("issue.cannedForComment")} />
          <FormField label={t("issue.comment")} name="body" error={comment.error}>
            <textarea
              value={commentBody}
              maxLength={2000}
              rows={4}
              onChange={(e) => setCommentBody(e.target.value)}
              required
            />
          </FormField>
          <div className="field field-check">
            <input
              id={`${ids}-internal`}
              type="checkbox"
              checked={internal}
              onChange={(e) => setInternal(e.target.checked)}
              aria-describedby={`${ids}-internal-hint`}
            />
            <label htmlFor={`${ids}-internal`}>{t("issue.internal")}</label>
            <p id={`${ids}-internal-hint`} className="hint">
              {t("issue.internalHint")}
            </p>
          </div>
          <button type="submit" disabled={busy || !commentBody.trim()}>
            {t("issue.sendComment")}
          </button>
          <ProblemAlert error={comment.error} fieldLabels={{ body: t("issue.comment") }} />
        </form>
      </section>
    </article>
  );
}
