/**
 * The public map (`/`): server-side clusters from GET /v1/map/cells at low zoom, the reports themselves
 * from GET /v1/map/issues from MARKERS_FROM_ZOOM on; refetched (debounced, stale requests aborted) when
 * the view moves or a filter changes. Filters and the view live in the URL query, so a link reproduces it.
 */
import L from "leaflet";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";
import { api } from "../../api/client";
import type { IssueSummary, MapCells, Page } from "../../api/types";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { STATUS_ICONS } from "../../components/StatusBadge";
import { formatNumber } from "../../i18n/format";
import { loadConfig, type AppConfig } from "../../lib/config";
import { FilterForm } from "./FilterForm";
import { useCategories } from "./map/useCategories";
import {
  filterQuery,
  mapRequest,
  modeForZoom,
  parseFilters,
  parseView,
  withQuery,
  type Bbox,
  type Filters,
  type MapMode,
} from "./map/state";
import "./public.css";

const DEBOUNCE_MS = 250;

type Shown = { mode: "clusters"; total: number; cells: number } | { mode: "markers"; total: number; more: boolean };

function boundsToBbox(b: L.LatLngBounds): Bbox {
  return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
}

export default function MapPage() {
  const { t } = useTranslation(["map", "common"]);
  usePageTitle(t("titles.map", { ns: "common" }));
  const navigate = useNavigate();
  const [searchParams, setSearchParams] = useSearchParams();
  const filters = useMemo(() => parseFilters(searchParams), [searchParams]);
  const { categories } = useCategories();

  const container = useRef<HTMLDivElement>(null);
  const mapRef = useRef<L.Map | null>(null);
  const layerRef = useRef<L.LayerGroup | null>(null);
  const filtersRef = useRef<Filters>(filters);
  filtersRef.current = filters;
  const inflight = useRef<AbortController | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const initialView = useRef(parseView(searchParams));
  // The latest setter: its functional update reads the query of the render it came from.
  const setParams = useRef(setSearchParams);
  setParams.current = setSearchParams;

  const [config, setConfig] = useState<AppConfig | null>(null);
  const [bbox, setBbox] = useState<Bbox | null>(null);
  const [shown, setShown] = useState<Shown | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    let alive = true;
    void loadConfig().then((c) => alive && setConfig(c));
    return () => {
      alive = false;
    };
  }, []);

  const draw = useCallback(
    (mode: MapMode, data: MapCells | Page) => {
      const map = mapRef.current;
      const layer = layerRef.current;
      if (!map || !layer) return;
      layer.clearLayers();
      if (mode === "clusters") {
        const cells = (data as MapCells).cells;
        let total = 0;
        for (const cell of cells) {
          total += cell.count;
          const count = formatNumber(cell.count);
          const label = t("cluster", { count: cell.count, formatted: count });
          const size = cell.count >= 1000 ? 56 : cell.count >= 100 ? 48 : 44;
          const marker = L.marker([cell.lat, cell.lon], {
            keyboard: true,
            title: label,
            alt: label,
            icon: L.divIcon({
              className: "map-cluster",
              html: `<span aria-hidden="true">${count}</span>`,
              iconSize: [size, size],
            }),
          });
          marker.on("click", () => {
            const [w, s, e, n] = cell.bbox;
            map.fitBounds([
              [s, w],
              [n, e],
            ]);
          });
          marker.on("add", () => marker.getElement()?.setAttribute("aria-label", label));
          layer.addLayer(marker);
        }
        setShown({ mode, total, cells: cells.length });
        return;
      }
      const page = data as Page;
      for (const issue of page.items) layer.addLayer(issueMarker(issue));
      setShown({ mode, total: page.items.length, more: Boolean(page.next_cursor) });

      function issueMarker(issue: IssueSummary): L.Marker {
        const status = t(`status.${issue.status}`, { ns: "common" });
        const label = `${issue.title}, ${status}`;
        const marker = L.marker([issue.lat, issue.lon], {
          keyboard: true,
          title: label,
          alt: label,
          icon: L.divIcon({
            className: `map-pin status-${issue.status}`,
            html: `<span aria-hidden="true">${STATUS_ICONS[issue.status] ?? "•"}</span>`,
            iconSize: [32, 32],
            iconAnchor: [16, 32],
            popupAnchor: [0, -30],
          }),
        });
        const popup = document.createElement("div");
        const link = document.createElement("a");
        link.href = `/issues/${issue.id}`;
        link.textContent = issue.title;
        link.addEventListener("click", (e) => {
          e.preventDefault();
          void navigate(`/issues/${issue.id}`);
        });
        const line = document.createElement("div");
        line.textContent = status;
        popup.append(link, line);
        marker.bindPopup(popup);
        marker.on("add", () => marker.getElement()?.setAttribute("aria-label", label));
        return marker;
      }
    },
    [t, navigate],
  );

  const refresh = useCallback(() => {
    const map = mapRef.current;
    if (!map) return;
    inflight.current?.abort();
    const controller = new AbortController();
    inflight.current = controller;
    const zoom = map.getZoom();
    const box = boundsToBbox(map.getBounds());
    setBbox(box);
    const mode = modeForZoom(zoom);
    const { path, searchParams: query } = mapRequest(mode, zoom, box, filtersRef.current);
    setLoading(true);
    api
      .get<MapCells | Page>(path, { searchParams: query, signal: controller.signal })
      .then((data) => {
        if (controller.signal.aborted) return;
        setError(null);
        draw(mode, data);
      })
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(e);
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
  }, [draw]);

  const schedule = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(refresh, DEBOUNCE_MS);
  }, [refresh]);

  // The map, once the configuration is known.
  useEffect(() => {
    if (!config || !container.current || mapRef.current) return;
    const view = initialView.current;
    const map = L.map(container.current, { keyboard: true, worldCopyJump: true }).setView(
      view ? [view.lat, view.lon] : config.defaultCenter,
      view ? view.zoom : config.defaultZoom,
    );
    if (config.tileUrl) {
      L.tileLayer(config.tileUrl, { attribution: config.tileAttribution ?? undefined, maxZoom: 19 }).addTo(map);
    }
    mapRef.current = map;
    layerRef.current = L.layerGroup().addTo(map);
    map.getContainer().setAttribute("aria-label", t("mapLabel"));
    map.on("moveend", () => {
      const c = map.getCenter();
      setParams.current(
        (prev) => withQuery(prev, { lat: c.lat.toFixed(5), lon: c.lng.toFixed(5), z: map.getZoom() }),
        { replace: true },
      );
      schedule();
    });
    refresh();
    return () => {
      clearTimeout(timer.current);
      inflight.current?.abort();
      map.remove();
      mapRef.current = null;
      layerRef.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [config]);

  // A filter changed: fetch again at once.
  useEffect(() => {
    if (mapRef.current) refresh();
  }, [filters.status, filters.category, refresh]);

  function changeFilters(next: Filters) {
    setSearchParams((prev) => withQuery(prev, { status: next.status, category: next.category }));
  }

  let summary = "";
  if (shown?.mode === "clusters") summary = t("summaryClusters", { count: shown.total, formatted: formatNumber(shown.total) });
  if (shown?.mode === "markers")
    summary = shown.more
      ? t("summaryMarkersMore", { count: shown.total, formatted: formatNumber(shown.total) })
      : t("summaryMarkers", { count: shown.total, formatted: formatNumber(shown.total) });

  return (
    <section className="public-map-page">
      <h1>{t("titles.map", { ns: "common" })}</h1>
      <FilterForm filters={filters} categories={categories} onChange={changeFilters} />
      <p className="public-map-links">
        <Link to={`/list${filterQuery(filters, bbox)}`}>{t("viewAsList")}</Link>
      </p>
      <ProblemAlert error={error} />
      <p className="public-map-summary" role="status" aria-live="polite">
        {loading && !shown ? t("loading") : summary}
        {shown?.mode === "clusters" && shown.total > 0 ? ` ${t("zoomHint")}` : ""}
      </p>
      <div ref={container} className="map public-map" data-mode={shown?.mode ?? ""} />
    </section>
  );
}
