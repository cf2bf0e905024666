import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../../api/client";
import type { Heatmap } from "../../../api/types";
import { Loading } from "../../../components/Loading";
import { ProblemAlert } from "../../../components/ProblemAlert";
import type { Locale } from "../../../i18n";
import { formatNumber } from "../../../i18n/format";
import { L } from "../../../lib/leaflet";
import { loadConfig } from "../../../lib/config";
import {
  analyticsParams,
  bboxParam,
  cellBounds,
  HEAT_LEVELS,
  heatLevel,
  heatOpacity,
  precisionForZoom,
  topCells,
  type HeatCell,
  type Range,
} from "./logic";

interface View {
  bbox: string;
  precision: number;
}

/**
 * A tooltip's content as text: Leaflet inserts a string given to bindTooltip as HTML, and the text holds the
 * API's geohash interpolated by i18next without escaping, so it goes in as a text node instead.
 */
export function tooltipContent(text: string): HTMLElement {
  const span = document.createElement("span");
  span.textContent = text;
  return span;
}

function viewOf(map: L.Map): View {
  const b = map.getBounds();
  return { bbox: bboxParam(b.getWest(), b.getSouth(), b.getEast(), b.getNorth()), precision: precisionForZoom(map.getZoom()) };
}

/**
 * Reports per geohash cell of the map's view: rectangles whose shade grows with the count, each with a
 * tooltip giving the number and its level in words, and a ranked table of the busiest cells.
 */
export function HeatMap({ range, category, locale }: { range: Range; category: string; locale: Locale }) {
  const { t } = useTranslation("analytics");
  const element = useRef<HTMLDivElement>(null);
  const mapRef = useRef<L.Map | null>(null);
  const layerRef = useRef<L.LayerGroup | null>(null);
  const [view, setView] = useState<View | null>(null);
  const [data, setData] = useState<Heatmap | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    let cancelled = false;
    let created: L.Map | null = null;
    void loadConfig().then((config) => {
      if (cancelled || !element.current) return;
      const map = L.map(element.current, { scrollWheelZoom: false }).setView(config.defaultCenter, config.defaultZoom);
      if (config.tileUrl) L.tileLayer(config.tileUrl, { attribution: config.tileAttribution ?? "" }).addTo(map);
      layerRef.current = L.layerGroup().addTo(map);
      map.on("moveend", () => setView(viewOf(map)));
      mapRef.current = created = map;
      setView(viewOf(map));
    });
    return () => {
      cancelled = true;
      created?.remove();
      mapRef.current = null;
      layerRef.current = null;
    };
  }, []);

  const from = range.from.getTime();
  const to = range.to.getTime();
  useEffect(() => {
    if (!view) return;
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    const params = { ...analyticsParams({ ...range }, category), bbox: view.bbox, precision: view.precision, measure: "reported" };
    api
      .get<Heatmap>("/v1/analytics/heatmap", { searchParams: params, signal: controller.signal })
      .then((answer) => {
        setData(answer);
        setLoading(false);
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        setError(e);
        setLoading(false);
      });
    return () => controller.abort();
    // the range is compared by its instants
  }, [view, from, to, category]);

  const cells = data?.cells ?? [];
  const max = Math.max(0, ...cells.map((c) => c.value ?? 0));
  const describe = (cell: HeatCell) =>
    t("heat.cellText", {
      area: cell.geohash,
      count: cell.value ?? 0,
      value: formatNumber(cell.value ?? 0, locale),
      level: formatNumber(heatLevel(cell.value, max), locale),
      levels: formatNumber(HEAT_LEVELS, locale),
    });

  useEffect(() => {
    const layer = layerRef.current;
    if (!layer || !data) return;
    layer.clearLayers();
    for (const cell of data.cells) {
      const level = heatLevel(cell.value, max);
      if (level === 0) continue;
      L.rectangle(cellBounds(cell.lat, cell.lon, data.precision), {
        className: `heat-cell heat-level-${level}`,
        color: "#7a1f00",
        weight: 1,
        fillColor: "#d9480f",
        fillOpacity: heatOpacity(level),
      })
        .bindTooltip(tooltipContent(describe(cell)))
        .addTo(layer);
    }
    // redrawn when the data or the language changes
  }, [data, max, locale]);

  const ranked = topCells(cells, 10);
  return (
    <section aria-labelledby="analytics-heat-title" className="analytics-section">
      <h2 id="analytics-heat-title">{t("heat.title")}</h2>
      <p className="hint">{t("heat.hint")}</p>
      <div ref={element} className="map analytics-map" role="region" aria-label={t("heat.mapLabel")} />
      {loading && <Loading />}
      <ProblemAlert error={error} />
      {data && !loading && (
        <p>
          {ranked.length === 0
            ? t("heat.none")
            : t("heat.summary", {
                count: cells.filter((c) => (c.value ?? 0) > 0).length,
                cells: formatNumber(cells.filter((c) => (c.value ?? 0) > 0).length, locale),
                max: formatNumber(max, locale),
              })}
        </p>
      )}
      {ranked.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption>{t("heat.tableCaption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("heat.rank")}</th>
                <th scope="col">{t("heat.area")}</th>
                <th scope="col">{t("heat.reports")}</th>
                <th scope="col">{t("heat.level")}</th>
              </tr>
            </thead>
            <tbody>
              {ranked.map((cell, i) => (
                <tr key={cell.geohash}>
                  <td>{formatNumber(i + 1, locale)}</td>
                  <th scope="row">
                    {cell.geohash}{" "}
                    <span className="hint">
                      ({formatNumber(cell.lat, locale, { maximumFractionDigits: 3 })},{" "}
                      {formatNumber(cell.lon, locale, { maximumFractionDigits: 3 })})
                    </span>
                  </th>
                  <td>{formatNumber(cell.value ?? 0, locale)}</td>
                  <td>
                    {t("heat.levelOf", {
                      level: formatNumber(heatLevel(cell.value, max), locale),
                      levels: formatNumber(HEAT_LEVELS, locale),
                    })}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
