import { useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import type { Locale } from "../../../i18n";
import { formatNumber } from "../../../i18n/format";
import { axisLabel, bucketLabel, niceMax, seriesTotals, tickIndexes, type SeriesRow, type WindowSize } from "./logic";

const H = 260;
const PAD = { left: 48, right: 12, top: 12, bottom: 40 };

/**
 * Reports opened and resolved per window: an SVG bar chart (opened solid, resolved hatched, so the
 * two differ without colour), a text summary that names it, and the same numbers as a table.
 */
export function SeriesChart({ rows, window, locale }: { rows: SeriesRow[]; window: WindowSize; locale: Locale }) {
  const { t } = useTranslation("analytics");
  const id = `series-${useId().replace(/[^a-zA-Z0-9_-]/g, "")}`;
  const box = useRef<HTMLDivElement>(null);
  // The drawing is as wide as its box (in CSS pixels), so its labels keep their size on a phone.
  const [W, setW] = useState(640);
  useEffect(() => {
    const element = box.current;
    if (!element || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(([entry]) => {
      const width = Math.round(entry?.contentRect.width ?? 0);
      if (width > 0) setW(Math.max(280, width));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const totals = seriesTotals(rows);
  const max = niceMax(Math.max(0, ...rows.map((r) => Math.max(r.opened, r.resolved))));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = rows.length > 0 ? plotW / rows.length : plotW;
  const bar = Math.max(1, (slot * 0.8) / 2);
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const ticks = tickIndexes(rows.length, Math.max(2, Math.min(window === "1h" ? 6 : 7, Math.floor(plotW / 90))));
  const gridValues = max % 2 === 0 ? [0, max / 2, max] : [0, max];
  const span = t(window === "1h" ? "series.hours" : "series.days", {
    count: rows.length,
    formatted: formatNumber(rows.length, locale),
  });
  const opened = formatNumber(totals.opened, locale);
  const resolved = formatNumber(totals.resolved, locale);
  const summary = totals.busiest
    ? t("series.summaryBusiest", {
        opened,
        resolved,
        span,
        busiest: bucketLabel(totals.busiest.start, window, locale),
        busiestOpened: formatNumber(totals.busiest.opened, locale),
      })
    : t("series.summary", { opened, resolved, span });

  return (
    <figure className="analytics-chart">
      <figcaption id={`${id}-summary`}>{summary}</figcaption>
      <ul className="analytics-legend" aria-hidden="true">
        <li>
          <svg width="18" height="14" viewBox="0 0 18 14">
            <rect width="18" height="14" className="bar-opened" />
          </svg>
          {t("series.opened")}
        </li>
        <li>
          <svg width="18" height="14" viewBox="0 0 18 14">
            <rect width="18" height="14" fill={`url(#${id}-hatch)`} className="bar-resolved" />
          </svg>
          {t("series.resolved")}
        </li>
      </ul>
      <div ref={box} className="analytics-svg-box">
        <svg
          className="analytics-svg"
          viewBox={`0 0 ${W} ${H}`}
          role="img"
          aria-labelledby={`${id}-summary`}
          width={W}
          height={H}
        >
          <defs>
            <pattern id={`${id}-hatch`} width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
              <rect width="6" height="6" className="hatch-bg" />
              <line x1="0" y1="0" x2="0" y2="6" className="hatch-line" strokeWidth="3" />
            </pattern>
          </defs>
          {gridValues.map((v) => (
            <g key={v}>
              <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} className="grid" />
              <text x={PAD.left - 6} y={y(v) + 4} textAnchor="end" className="tick">
                {formatNumber(v, locale)}
              </text>
            </g>
          ))}
          {rows.map((r, i) => {
            const x = PAD.left + i * slot + slot * 0.1;
            return (
              <g key={r.start.getTime()}>
                <rect x={x} y={y(r.opened)} width={bar} height={PAD.top + plotH - y(r.opened)} className="bar-opened" />
                <rect
                  x={x + bar}
                  y={y(r.resolved)}
                  width={bar}
                  height={PAD.top + plotH - y(r.resolved)}
                  fill={`url(#${id}-hatch)`}
                  className="bar-resolved"
                />
              </g>
            );
          })}
          {ticks.map((i) => (
            <text
              key={i}
              x={PAD.left + (i + 0.5) * slot}
              y={H - PAD.bottom + 18}
              textAnchor={ticks.length > 1 && i === rows.length - 1 ? "end" : i === 0 && ticks.length > 1 ? "start" : "middle"}
              className="tick"
            >
              {axisLabel(rows[i]!.start, window, locale)}
            </text>
          ))}
          <text x={PAD.left + plotW / 2} y={H - 4} textAnchor="middle" className="axis-title">
            {window === "1h" ? t("series.axisHour") : t("series.axisDay")}
          </text>
        </svg>
      </div>
      <details className="analytics-table">
        <summary>{t("series.showTable")}</summary>
        <div className="table-wrap">
          <table>
            <caption>{t("series.tableCaption")}</caption>
            <thead>
              <tr>
                <th scope="col">{window === "1h" ? t("series.axisHour") : t("series.axisDay")}</th>
                <th scope="col">{t("series.opened")}</th>
                <th scope="col">{t("series.resolved")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.start.getTime()}>
                  <th scope="row">{bucketLabel(r.start, window, locale)}</th>
                  <td>{formatNumber(r.opened, locale)}</td>
                  <td>{formatNumber(r.resolved, locale)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
