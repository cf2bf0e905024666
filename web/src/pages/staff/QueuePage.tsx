import { useCallback, useEffect, useId, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { api } from "../../api/client";
import { SubmitKey } from "../../api/submitKey";
import type { IssueSummary, Page } from "../../api/types";
import { useSession } from "../../auth/session";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { Pager, useCursorPager } from "../../components/Pager";
import { ProblemAlert, useProblemMessage } from "../../components/ProblemAlert";
import { PriorityBadge, StatusBadge } from "../../components/StatusBadge";
import { formatDate, formatNumber, formatRelative } from "../../i18n/format";
import { useStaffCategories } from "./queue/categories";
import { assignDepartment, colleagues, optionLabels, useStaffDirectory } from "./queue/directory";
import {
  departmentChoices,
  filtersFromUrl,
  filtersToUrl,
  PRIORITIES,
  queueSearchParams,
  refusedIds,
  runBulk,
  SORTS,
  STATUSES,
  type BulkOutcome,
  type QueueFilters,
} from "./queue/logic";
import "./staff.css";

type BulkKind = "acknowledge" | "assign";
interface BulkReport {
  kind: BulkKind;
  outcomes: BulkOutcome<unknown>[];
  titles: Record<string, string>;
}

export default function QueuePage() {
  const { t } = useTranslation(["staff", "common"]);
  usePageTitle(t("queue.title"));
  const { user } = useSession();
  const [searchParams, setSearchParams] = useSearchParams();
  const filters = useMemo(() => filtersFromUrl(searchParams), [searchParams]);
  const pager = useCursorPager();
  const { categories } = useStaffCategories();
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [reloads, setReloads] = useState(0);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [report, setReport] = useState<BulkReport | null>(null);
  const [running, setRunning] = useState<{ kind: BulkKind; done: number; total: number } | null>(null);
  const [assignee, setAssignee] = useState("");
  // One SubmitKey per issue for bulk actions: re-running a bulk action on an issue whose outcome was
  // unknown reuses its key (never applied twice); after any answer the next run gets a fresh one.
  const bulkKeys = useRef(new Map<string, SubmitKey>());
  const keysOf = (id: string) => {
    let keys = bulkKeys.current.get(id);
    if (!keys) bulkKeys.current.set(id, (keys = new SubmitKey()));
    return keys;
  };
  const [assignDept, setAssignDept] = useState("");
  const message = useProblemMessage();
  const ids = useId();

  const departments = useMemo(
    () =>
      departmentChoices(
        user?.role,
        user?.departments,
        categories.map((c) => c.department),
      ),
    [user, categories],
  );
  // Whom to assign to: the staff of the chosen department (the queue's filter unless another is picked).
  const directoryDept = assignDepartment(assignDept || filters.department, departments);
  const directory = useStaffDirectory(directoryDept);
  const others = useMemo(() => colleagues(directory.staff, user?.id), [directory.staff, user]);
  const labels = useMemo(() => optionLabels(others), [others]);
  const categoryNames = useMemo(() => new Map(categories.map((c) => [c.code, c.name])), [categories]);

  const { cursor } = pager;
  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    api
      .get<Page>("/v1/staff/queue", { searchParams: queueSearchParams(filters, cursor), signal: controller.signal })
      .then((p) => {
        setPage(p);
        setError(null);
        setLoading(false);
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        setError(e);
        setLoading(false);
      });
    return () => controller.abort();
  }, [filters, cursor, reloads]);

  function setFilter<K extends keyof QueueFilters>(name: K, value: QueueFilters[K]) {
    setSearchParams(filtersToUrl({ ...filters, [name]: value }), { replace: true });
    pager.reset();
    setSelected(new Set());
  }

  const items = page?.items ?? [];
  const allSelected = items.length > 0 && items.every((i) => selected.has(i.id));
  function toggle(id: string) {
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }
  function toggleAll() {
    setSelected(allSelected ? new Set() : new Set(items.map((i) => i.id)));
  }

  const refresh = useCallback(() => setReloads((n) => n + 1), []);

  async function bulk(kind: BulkKind, to?: string) {
    const chosen = [...selected];
    if (chosen.length === 0) return;
    const titles = Object.fromEntries(items.filter((i) => selected.has(i.id)).map((i) => [i.id, i.title]));
    setRunning({ kind, done: 0, total: chosen.length });
    setReport(null);
    const outcomes = await runBulk(
      chosen,
      (id) =>
        kind === "acknowledge"
          ? keysOf(id).send("POST", `/v1/issues/${id}/transitions`, { json: { to: "acknowledged", note: "" } })
          : keysOf(id).send("POST", `/v1/issues/${id}/assignment`, { json: { assignee_id: to } }),
      { limit: 4, onProgress: () => setRunning((r) => (r ? { ...r, done: r.done + 1 } : r)) },
    );
    setRunning(null);
    setReport({ kind, outcomes, titles });
    setSelected(refusedIds(outcomes));
    refresh();
    // The API applies accepted commands shortly after its 202: look again in a moment.
    window.setTimeout(refresh, 2000);
  }

  const assigneeValue = others.some((m) => m.id === assignee) ? assignee : "";
  const doneCount = report?.outcomes.filter((o) => o.ok).length ?? 0;
  const refusedCount = (report?.outcomes.length ?? 0) - doneCount;

  return (
    <section className="staff-queue">
      <h1>{t("queue.title")}</h1>

      <form className="staff-filters" onSubmit={(e) => e.preventDefault()} aria-label={t("queue.filters")}>
        {(departments.length > 1 || user?.role === "admin") && (
          <div className="field">
            <label htmlFor={`${ids}-dept`}>{t("queue.department")}</label>
            <select
              id={`${ids}-dept`}
              value={filters.department}
              onChange={(e) => setFilter("department", e.target.value)}
            >
              <option value="">{user?.role === "admin" ? t("queue.allDepartments") : t("queue.myDepartments")}</option>
              {departments.map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="field">
          <label htmlFor={`${ids}-status`}>{t("queue.status")}</label>
          <select
            id={`${ids}-status`}
            value={filters.status}
            onChange={(e) => setFilter("status", e.target.value as QueueFilters["status"])}
          >
            <option value="">{t("queue.anyStatus")}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}`, { ns: "common" })}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${ids}-priority`}>{t("queue.priority")}</label>
          <select
            id={`${ids}-priority`}
            value={filters.priority}
            onChange={(e) => setFilter("priority", e.target.value as QueueFilters["priority"])}
          >
            <option value="">{t("queue.anyPriority")}</option>
            {PRIORITIES.map((p) => (
              <option key={p} value={p}>
                {t(`priority.${p}`, { ns: "common" })}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${ids}-sort`}>{t("queue.sort")}</label>
          <select
            id={`${ids}-sort`}
            value={filters.sort}
            onChange={(e) => setFilter("sort", e.target.value as QueueFilters["sort"])}
          >
            {SORTS.map((s) => (
              <option key={s} value={s}>
                {t(`queue.sorts.${s}`)}
              </option>
            ))}
          </select>
        </div>
        <div className="field field-check">
          <input
            id={`${ids}-overdue`}
            type="checkbox"
            checked={filters.overdue}
            onChange={(e) => setFilter("overdue", e.target.checked)}
          />
          <label htmlFor={`${ids}-overdue`}>{t("queue.overdueOnly")}</label>
        </div>
      </form>

      <section className="staff-bulk" aria-labelledby={`${ids}-bulk`}>
        <h2 id={`${ids}-bulk`}>{t("bulk.heading")}</h2>
        <p aria-live="polite">{t("bulk.selected", { count: selected.size, n: formatNumber(selected.size) })}</p>
        <div className="staff-bulk-actions">
          <button type="button" disabled={selected.size === 0 || running !== null} onClick={() => void bulk("acknowledge")}>
            {t("bulk.acknowledge")}
          </button>
          <button
            type="button"
            disabled={selected.size === 0 || running !== null || !user}
            onClick={() => user && void bulk("assign", user.id)}
          >
            {t("bulk.assignToMe")}
          </button>
        </div>
        <div className="staff-bulk-assign">
          {departments.length > 1 && (
            <div className="field">
              <label htmlFor={`${ids}-assign-dept`}>{t("bulk.assignDepartment")}</label>
              <select
                id={`${ids}-assign-dept`}
                value={directoryDept}
                onChange={(e) => {
                  setAssignDept(e.target.value);
                  setAssignee("");
                }}
              >
                <option value="">{t("bulk.chooseDepartment")}</option>
                {departments.map((d) => (
                  <option key={d} value={d}>
                    {d}
                  </option>
                ))}
              </select>
            </div>
          )}
          <div className="field">
            <label htmlFor={`${ids}-assignee`}>{t("bulk.assignee")}</label>
            <p id={`${ids}-assignee-hint`} className="hint">
              {!directoryDept
                ? t("bulk.chooseDepartmentFirst")
                : directory.loaded && others.length === 0 && !directory.error
                  ? t("bulk.noColleagues", { department: directoryDept })
                  : t("bulk.assigneeHint", { department: directoryDept })}
            </p>
            <select
              id={`${ids}-assignee`}
              aria-describedby={`${ids}-assignee-hint`}
              value={assigneeValue}
              disabled={!directoryDept || others.length === 0}
              onChange={(e) => setAssignee(e.target.value)}
            >
              <option value="">{t("bulk.chooseAssignee")}</option>
              {others.map((m) => (
                <option key={m.id} value={m.id}>
                  {labels.get(m.id)}
                </option>
              ))}
            </select>
          </div>
          <button
            type="button"
            disabled={selected.size === 0 || running !== null || !assigneeValue}
            onClick={() => void bulk("assign", assigneeValue)}
          >
            {t("bulk.assignTo")}
          </button>
        </div>
        <ProblemAlert error={directory.error} />
        <div aria-live="polite" role="status">
          {running && (
            <p>{t("bulk.running", { done: formatNumber(running.done), total: formatNumber(running.total) })}</p>
          )}
          {report && (
            <p>
              {t("bulk.summary", {
                done: formatNumber(doneCount),
                refused: formatNumber(refusedCount),
              })}
            </p>
          )}
        </div>
        {report && (
          <ul className="staff-bulk-results" aria-label={t("bulk.results")}>
            {report.outcomes.map((o) => (
              <li key={o.id} className={o.ok ? "bulk-done" : "bulk-refused"}>
                <span aria-hidden="true">{o.ok ? "✔ " : "✖ "}</span>
                <strong>{report.titles[o.id] ?? o.id}</strong>:{" "}
                {o.ok ? t("bulk.done") : `${t("bulk.refused")}: ${message(o.error)}`}
              </li>
            ))}
          </ul>
        )}
      </section>

      <ProblemAlert error={error} onRetry={refresh} />
      {loading && !page ? (
        <Loading />
      ) : items.length === 0 && !error ? (
        <p>{t("queue.empty")}</p>
      ) : (
        <div className="table-wrap">
          <table className="staff-table">
            <caption className="visually-hidden">{t("queue.caption")}</caption>
            <thead>
              <tr>
                <th scope="col" className="staff-select-all">
                  <label>
                    <input type="checkbox" checked={allSelected} onChange={toggleAll} />
                    <span className="select-all-text">{t("queue.selectAll")}</span>
                  </label>
                </th>
                <th scope="col">{t("queue.columns.title")}</th>
                <th scope="col">{t("queue.columns.category")}</th>
                <th scope="col">{t("queue.columns.status")}</th>
                <th scope="col">{t("queue.columns.priority")}</th>
                <th scope="col">{t("queue.columns.due")}</th>
                <th scope="col">{t("queue.columns.age")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((issue: IssueSummary) => (
                <tr key={issue.id} className={selected.has(issue.id) ? "selected" : undefined}>
                  <td className="staff-select">
                    <input
                      type="checkbox"
                      aria-label={t("queue.select", { title: issue.title })}
                      checked={selected.has(issue.id)}
                      onChange={() => toggle(issue.id)}
                    />
                  </td>
                  <td className="staff-title">
                    <Link to={`/staff/issues/${issue.id}`}>{issue.title}</Link>
                  </td>
                  <td data-label={t("queue.columns.category")}>{categoryNames.get(issue.category) ?? issue.category}</td>
                  <td data-label={t("queue.columns.status")}>
                    <StatusBadge status={issue.status} />
                  </td>
                  <td data-label={t("queue.columns.priority")}>
                    <PriorityBadge priority={issue.priority} />
                  </td>
                  <td data-label={t("queue.columns.due")}>
                    {issue.due_at ? <time dateTime={issue.due_at}>{formatDate(issue.due_at)}</time> : t("queue.noDue")}
                    {issue.overdue && (
                      <>
                        {" "}
                        <span className="overdue">
                          <span aria-hidden="true">⏰ </span>
                          {t("queue.overdue")}
                        </span>
                      </>
                    )}
                  </td>
                  <td data-label={t("queue.columns.age")}>
                    <time dateTime={issue.created_at}>{formatRelative(issue.created_at)}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && <Pager pager={pager} nextCursor={page.next_cursor} />}
    </section>
  );
}
