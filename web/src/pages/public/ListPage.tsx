/**
 * The list of reports (`/list`): the screen-reader and keyboard alternative to the map, with its filters.
 *
 * Source: GET /v1/map/issues with the map's last viewport (`bbox` in the query, as "View as a list"
 * passes it) or, opened directly, a city-wide box around the configured centre. The same endpoint
 * as the map's markers, so the list holds exactly what the map shows for the same view and filters
 * (GET /v1/issues is a radius search capped at 50 km and meant for "near me"); it pages with cursors.
 */
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { api } from "../../api/client";
import type { Page } from "../../api/types";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { Pager, useCursorPager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { StatusBadge } from "../../components/StatusBadge";
import { formatDate, formatNumber } from "../../i18n/format";
import { loadConfig } from "../../lib/config";
import { FilterForm } from "./FilterForm";
import { cityBbox, filterQuery, formatBbox, parseBbox, parseFilters, withQuery, type Bbox, type Filters } from "./map/state";
import { useCategories } from "./map/useCategories";
import "./public.css";

const PAGE_SIZE = 20;

export default function ListPage() {
  const { t } = useTranslation(["map", "common"]);
  usePageTitle(t("titles.list", { ns: "common" }));
  const [searchParams, setSearchParams] = useSearchParams();
  const filters = useMemo(() => parseFilters(searchParams), [searchParams]);
  const givenBbox = useMemo(() => parseBbox(searchParams.get("bbox")), [searchParams]);
  const { categories } = useCategories();
  const pager = useCursorPager();
  const [bbox, setBbox] = useState<Bbox | null>(givenBbox);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (givenBbox) {
      setBbox(givenBbox);
      return;
    }
    let alive = true;
    void loadConfig().then((c) => alive && setBbox(cityBbox(c.defaultCenter)));
    return () => {
      alive = false;
    };
  }, [givenBbox]);

  const box = bbox ? formatBbox(bbox) : null;
  useEffect(() => {
    if (!box) return;
    const controller = new AbortController();
    setPage(null);
    setError(null);
    api
      .get<Page>("/v1/map/issues", {
        searchParams: { bbox: box, status: filters.status, category: filters.category, cursor: pager.cursor, limit: PAGE_SIZE },
        signal: controller.signal,
      })
      .then((p) => setPage(p))
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(e);
      });
    return () => controller.abort();
  }, [box, filters.status, filters.category, pager.cursor]);

  function changeFilters(next: Filters) {
    pager.reset();
    setSearchParams((prev) => withQuery(prev, { status: next.status, category: next.category }));
  }

  const categoryName = (code: string) => categories.find((c) => c.code === code)?.name ?? code;
  const mapLink = `/${filterQuery(filters)}`;

  return (
    <section>
      <h1>{t("titles.list", { ns: "common" })}</h1>
      <FilterForm filters={filters} categories={categories} onChange={changeFilters} />
      <p>
        {givenBbox ? t("list.scopeView") : t("list.scopeCity")} <Link to={mapLink}>{t("viewOnMap")}</Link>
      </p>
      <ProblemAlert error={error} />
      {!page && !error && <Loading />}
      {page && (
        <>
          <p role="status">
            {page.items.length === 0
              ? t("list.empty")
              : t("list.count", { count: page.items.length, formatted: formatNumber(page.items.length), page: formatNumber(pager.pageNumber) })}
          </p>
          <ul className="public-list">
            {page.items.map((issue) => (
              <li key={issue.id}>
                <h2>
                  <Link to={`/issues/${issue.id}`}>{issue.title}</Link>
                </h2>
                <dl className="public-meta">
                  <div>
                    <dt className="visually-hidden">{t("fields.status")}</dt>
                    <dd>
                      <StatusBadge status={issue.status} />
                    </dd>
                  </div>
                  <div>
                    <dt>{t("fields.category")}</dt>
                    <dd>{categoryName(issue.category)}</dd>
                  </div>
                  <div>
                    <dt>{t("fields.created")}</dt>
                    <dd>
                      <time dateTime={issue.created_at}>{formatDate(issue.created_at)}</time>
                    </dd>
                  </div>
                  <div>
                    <dt>{t("fields.votes")}</dt>
                    <dd>{formatNumber(issue.votes)}</dd>
                  </div>
                  {issue.address && (
                    <div>
                      <dt>{t("fields.address")}</dt>
                      <dd>{issue.address}</dd>
                    </div>
                  )}
                </dl>
              </li>
            ))}
          </ul>
          <Pager pager={pager} nextCursor={page.next_cursor} label={t("list.pages")} />
        </>
      )}
    </section>
  );
}
