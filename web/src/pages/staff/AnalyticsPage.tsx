import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { api } from "../../api/client";
import type { Summary, TimeSeries } from "../../api/types";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { isLocale, type Locale } from "../../i18n";
import { formatNumber } from "../../i18n/format";
import { HeatMap } from "./analytics/HeatMap";
import {
  analyticsParams,
  DEFAULT_FILTERS,
  exportFilename,
  filtersFromUrl,
  filtersToUrl,
  formatDuration,
  isRange,
  lateRows,
  periodLabel,
  PRESETS,
  resolveRange,
  shapeSeries,
  type Filters,
  type LateEntry,
  type Range,
  type SeriesRow,
} from "./analytics/logic";
import { SeriesChart } from "./analytics/SeriesChart";
import { useStaffCategories, type StaffCategory } from "./queue/categories";
import "./analytics/analytics.css";

function useLocale(): Locale {
  const { i18n } = useTranslation();
  return isLocale(i18n.language) ? i18n.language : "en";
}

function FilterBar({
  filters,
  categories,
  onApply,
}: {
  filters: Filters;
  categories: StaffCategory[];
  onApply: (f: Filters) => void;
}) {
  const { t } = useTranslation("analytics");
  const [draft, setDraft] = useState(filters);
  useEffect(() => setDraft(filters), [filters]);
  const departments = useMemo(() => {
    const groups = new Map<string, StaffCategory[]>();
    for (const c of [...categories].sort((a, b) => a.name.localeCompare(b.name))) {
      groups.set(c.department, [...(groups.get(c.department) ?? []), c]);
    }
    return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [categories]);

  function submit(event: FormEvent) {
    event.preventDefault();
    onApply(draft);
  }

  return (
    <form className="analytics-filters" onSubmit={submit} aria-label={t("filters.label")}>
      <div className="field">
        <label htmlFor="analytics-period">{t("filters.period")}</label>
        <select
          id="analytics-period"
          value={draft.period}
          onChange={(e) => setDraft({ ...draft, period: e.target.value as Filters["period"] })}
        >
          {PRESETS.map((p) => (
            <option key={p} value={p}>
              {t(`filters.presets.${p}`)}
            </option>
          ))}
        </select>
      </div>
      {draft.period === "custom" && (
        <>
          <div className="field">
            <label htmlFor="analytics-from">{t("filters.from")}</label>
            <input
              id="analytics-from"
              type="date"
              value={draft.from}
              onChange={(e) => setDraft({ ...draft, from: e.target.value })}
              required
            />
          </div>
          <div className="field">
            <label htmlFor="analytics-to">{t("filters.to")}</label>
            <input id="analytics-to" type="date" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} required />
          </div>
        </>
      )}
      <div className="field">
        <label htmlFor="analytics-category">{t("filters.category")}</label>
        <select id="analytics-category" value={draft.category} onChange={(e) => setDraft({ ...draft, category: e.target.value })}>
          <option value="">{t("filters.allCategories")}</option>
          {departments.map(([department, list]) => (
            <optgroup key={department} label={t("filters.department", { department })}>
              {list.map((c) => (
                <option key={c.code} value={c.code}>
                  {c.name}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
      </div>
      <div className="analytics-filter-actions">
        <button type="submit">{t("filters.apply")}</button>
        <button type="button" className="secondary" onClick={() => onApply(DEFAULT_FILTERS)}>
          {t("filters.reset")}
        </button>
      </div>
    </form>
  );
}

function Card({ label, value, note }: { label: string; value: string; note?: string }) {
  return (
    <div className="analytics-card">
      <dt>{label}</dt>
      <dd>
        <span className="analytics-card-value">{value}</span>
        {note && <span className="hint">{note}</span>}
      </dd>
    </div>
  );
}

function SummaryCards({ summary, locale }: { summary: Summary; locale: Locale }) {
  const { t } = useTranslation("analytics");
  const n = (v: number | null | undefined) => (v === null || v === undefined ? t("summary.unknown") : formatNumber(v, locale));
  const d = (v: number | null | undefined) => formatDuration(v, locale) ?? t("summary.noData");
  const c = summary.counts;
  return (
    <dl className="analytics-cards">
      <Card label={t("summary.opened")} value={n(c.reported ?? 0)} />
      <Card label={t("summary.resolved")} value={n(c.resolved ?? 0)} />
      <Card label={t("summary.backlog")} value={n(summary.open_backlog)} note={t("summary.now")} />
      <Card
        label={t("summary.overdue")}
        value={n(summary.overdue_open)}
        note={summary.overdue_open === null ? t("summary.overdueUnknown") : t("summary.now")}
      />
      <Card label={t("summary.slaBreached")} value={n(c.sla_breached ?? 0)} />
      <Card label={t("summary.rejected")} value={n(c.rejected ?? 0)} />
      <Card
        label={t("summary.ttrMedian")}
        value={d(summary.time_to_resolve.p50_s)}
        note={
          summary.time_to_resolve.p90_s != null
            ? t("summary.p90", { duration: formatDuration(summary.time_to_resolve.p90_s, locale) })
            : undefined
        }
      />
      <Card
        label={t("summary.ttaMedian")}
        value={d(summary.time_to_acknowledge.p50_s)}
        note={
          summary.time_to_acknowledge.p90_s != null
            ? t("summary.p90", { duration: formatDuration(summary.time_to_acknowledge.p90_s, locale) })
            : undefined
        }
      />
    </dl>
  );
}

function LateTable({ category, names, locale }: { category: string; names: Map<string, string>; locale: Locale }) {
  const { t } = useTranslation("analytics");
  const [entries, setEntries] = useState<LateEntry[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    api
      .get<LateEntry[]>("/v1/analytics/late", { searchParams: { category }, signal: controller.signal })
      .then(setEntries)
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(e);
      });
    return () => controller.abort();
  }, [category]);
  const rows = entries ? lateRows(entries) : [];
  return (
    <section aria-labelledby="analytics-late-title" className="analytics-section">
      <h2 id="analytics-late-title">{t("late.title")}</h2>
      <p className="hint">{t("late.hint")}</p>
      <ProblemAlert error={error} />
      {!entries && !error && <Loading />}
      {entries && rows.length === 0 && <p>{t("late.none")}</p>}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">{t("late.title")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("late.category")}</th>
                <th scope="col">{t("late.window")}</th>
                <th scope="col">{t("late.events")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.category}|${r.window}`}>
                  <th scope="row">{names.get(r.category) ?? r.category}</th>
                  <td>{t(`late.windows.${r.window}`, { defaultValue: r.window })}</td>
                  <td>{formatNumber(r.total, locale)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function DownloadCsv({ range, category }: { range: Range; category: string }) {
  const { t } = useTranslation("analytics");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  async function download() {
    setBusy(true);
    setError(null);
    setDone(false);
    try {
      // A plain link cannot send the Bearer token: fetch through the client, then save the blob.
      const text = await api.get<string>("/v1/analytics/export.csv", {
        searchParams: { ...analyticsParams(range, category), window: range.window },
        headers: { Accept: "text/csv" },
      });
      const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = exportFilename(range);
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setDone(true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="analytics-download">
      <button type="button" onClick={() => void download()} disabled={busy} aria-describedby="analytics-download-hint">
        {busy ? t("download.busy") : t("download.label")}
      </button>
      <span id="analytics-download-hint" className="hint">
        {t("download.hint")}
      </span>
      <div role="status" aria-live="polite">
        {done && t("download.done")}
      </div>
      <ProblemAlert error={error} />
    </div>
  );
}

export default function AnalyticsPage() {
  const { t } = useTranslation("analytics");
  usePageTitle(t("title"));
  const locale = useLocale();
  const [searchParams, setSearchParams] = useSearchParams();
  const [reloads, setReloads] = useState(0);
  const filters = useMemo(() => filtersFromUrl(searchParams), [searchParams]);
  // The period is resolved once per filter change (a preset ends with the current window).
  // a reload moves a preset to the current window
  const resolved = useMemo(() => resolveRange(filters), [filters, reloads]);
  const range = isRange(resolved) ? resolved : null;
  const { categories } = useStaffCategories();
  const names = useMemo(() => new Map(categories.map((c) => [c.code, c.name])), [categories]);
  const [summary, setSummary] = useState<Summary | null>(null);
  const [series, setSeries] = useState<SeriesRow[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!range) return;
    const controller = new AbortController();
    const params = analyticsParams(range, filters.category);
    const signal = controller.signal;
    setError(null);
    setSummary(null);
    setSeries(null);
    Promise.all([
      api.get<Summary>("/v1/analytics/summary", { searchParams: params, signal }),
      api.get<TimeSeries>("/v1/analytics/timeseries", { searchParams: { ...params, window: range.window, measure: "reported" }, signal }),
      api.get<TimeSeries>("/v1/analytics/timeseries", { searchParams: { ...params, window: range.window, measure: "resolved" }, signal }),
    ])
      .then(([s, opened, resolvedSeries]) => {
        setSummary(s);
        setSeries(shapeSeries(range, opened.points, resolvedSeries.points));
      })
      .catch((e: unknown) => {
        if (!signal.aborted) setError(e);
      });
    return () => controller.abort();
  }, [range, filters.category]);

  function apply(next: Filters) {
    setSearchParams(filtersToUrl(next));
    setReloads((r) => r + 1);
  }

  const categoryName = filters.category ? (names.get(filters.category) ?? filters.category) : t("filters.allCategories");
  return (
    <section className="analytics">
      <h1>{t("title")}</h1>
      <FilterBar filters={filters} categories={categories} onApply={apply} />
      {!range && (
        <p className="problem" role="alert">
          {t(`filters.errors.${isRange(resolved) ? "missing" : resolved.error}`)}
        </p>
      )}
      {range && (
        <>
          <p className="analytics-scope">
            {t("scope", {
              period: periodLabel(range, locale),
              category: categoryName,
            })}
          </p>
          <DownloadCsv range={range} category={filters.category} />
          <ProblemAlert error={error} onRetry={() => setReloads((r) => r + 1)} />
          <section aria-labelledby="analytics-summary-title" className="analytics-section">
            <h2 id="analytics-summary-title">{t("summary.title")}</h2>
            {summary ? <SummaryCards summary={summary} locale={locale} /> : !error && <Loading />}
          </section>
          <section aria-labelledby="analytics-series-title" className="analytics-section">
            <h2 id="analytics-series-title">{t("series.title")}</h2>
            {series ? <SeriesChart rows={series} window={range.window} locale={locale} /> : !error && <Loading />}
          </section>
          <HeatMap range={range} category={filters.category} locale={locale} />
        </>
      )}
      <LateTable category={filters.category} names={names} locale={locale} />
    </section>
  );
}
