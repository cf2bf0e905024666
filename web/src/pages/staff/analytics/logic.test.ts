import { describe, expect, it } from "vitest";
import {
  analyticsParams,
  bboxParam,
  bucketLabel,
  cellBounds,
  exportFilename,
  filtersFromUrl,
  filtersToUrl,
  formatDuration,
  heatIntensity,
  heatLevel,
  heatOpacity,
  isoMinute,
  isRange,
  lateRows,
  niceMax,
  precisionForZoom,
  resolveRange,
  seriesTotals,
  shapeSeries,
  tickIndexes,
  topCells,
  type Range,
} from "./logic";

const NOW = new Date("2026-12-02T19:41:23.456Z");

function range(filters: Parameters<typeof resolveRange>[0]): Range {
  const r = resolveRange(filters, NOW);
  if (!isRange(r)) throw new Error(r.error);
  return r;
}

describe("filters in the URL", () => {
  it("round-trips, leaving defaults out", () => {
    const f = { period: "custom" as const, from: "2026-11-01", to: "2026-11-30", category: "pothole" };
    const url = filtersToUrl(f);
    expect(url.toString()).toBe("period=custom&from=2026-11-01&to=2026-11-30&category=pothole");
    expect(filtersFromUrl(url)).toEqual(f);
    expect(filtersToUrl({ period: "7d", from: "2026-11-01", to: "", category: "" }).toString()).toBe("");
  });

  it("falls back on malformed values", () => {
    expect(filtersFromUrl(new URLSearchParams("period=1y&from=yesterday&to=2026-13"))).toEqual({
      period: "7d",
      from: "",
      to: "",
      category: "",
    });
  });
});

describe("the period asked of the API", () => {
  it("ends a preset with the current UTC window and aligns it", () => {
    expect(range({ period: "24h", from: "", to: "", category: "" })).toEqual({
      from: new Date("2026-12-01T20:00:00Z"),
      to: new Date("2026-12-02T20:00:00Z"),
      window: "1h",
    });
    const week = range({ period: "7d", from: "", to: "", category: "" });
    expect(isoMinute(week.from)).toBe("2026-11-26T00:00:00Z");
    expect(isoMinute(week.to)).toBe("2026-12-03T00:00:00Z");
    expect(week.window).toBe("1d");
  });

  it("covers whole days of a custom range, the last day included", () => {
    const r = range({ period: "custom", from: "2026-11-01", to: "2026-11-30", category: "" });
    expect(isoMinute(r.from)).toBe("2026-11-01T00:00:00Z");
    expect(isoMinute(r.to)).toBe("2026-12-01T00:00:00Z");
  });

  it("refuses a missing, reversed or too long custom range", () => {
    expect(resolveRange({ period: "custom", from: "2026-11-01", to: "", category: "" }, NOW)).toEqual({ error: "missing" });
    expect(resolveRange({ period: "custom", from: "2026-11-02", to: "2026-11-01", category: "" }, NOW)).toEqual({ error: "order" });
    expect(resolveRange({ period: "custom", from: "2025-01-01", to: "2026-11-01", category: "" }, NOW)).toEqual({ error: "span" });
  });

  it("builds whole-minute parameters with a zone, the category only when chosen", () => {
    const r = range({ period: "24h", from: "", to: "", category: "" });
    expect(analyticsParams(r, "")).toEqual({ from: "2026-12-01T20:00:00Z", to: "2026-12-02T20:00:00Z" });
    expect(analyticsParams(r, "pothole").category).toBe("pothole");
    expect(exportFilename(r)).toBe("snapfix-1h-20261201T2000-20261202T2000.csv");
  });

  it("clamps a map view to the world", () => {
    expect(bboxParam(-200, -95, 77.123456789, 13)).toBe("-180,-90,77.12346,13");
  });
});

describe("series shaping", () => {
  const r: Range = { from: new Date("2026-12-01T00:00:00Z"), to: new Date("2026-12-04T00:00:00Z"), window: "1d" };

  it("gives every window a row, 0 where the API had none", () => {
    const rows = shapeSeries(
      r,
      [
        { start: "2026-12-01T00:00:00+00:00", value: 3 },
        { start: "2026-12-03T00:00:00+00:00", value: 5 },
      ],
      [{ start: "2026-12-03T00:00:00Z", value: 2 }],
    );
    expect(rows.map((x) => [x.start.toISOString().slice(0, 10), x.opened, x.resolved])).toEqual([
      ["2026-12-01", 3, 0],
      ["2026-12-02", 0, 0],
      ["2026-12-03", 5, 2],
    ]);
    expect(seriesTotals(rows)).toMatchObject({ opened: 8, resolved: 2, busiest: rows[2] });
  });

  it("has no busiest window when nothing was opened", () => {
    expect(seriesTotals(shapeSeries(r, [], [])).busiest).toBeNull();
  });

  it("labels windows per locale in India's time (hours) or by date (days)", () => {
    const at = new Date("2026-12-02T09:00:00Z");
    expect(bucketLabel(at, "1h", "en")).toMatch(/2 Dec.*2:30\s?pm/i);
    expect(bucketLabel(new Date("2026-12-02T00:00:00Z"), "1d", "en")).toBe("2 Dec 2026");
    expect(bucketLabel(new Date("2026-12-02T00:00:00Z"), "1d", "hi")).toContain("दिस॰");
  });

  it("spreads ticks and rounds the axis", () => {
    expect(tickIndexes(3)).toEqual([0, 1, 2]);
    expect(tickIndexes(24, 6)).toEqual([0, 5, 9, 14, 18, 23]);
    expect(tickIndexes(0)).toEqual([]);
    expect([niceMax(0), niceMax(3), niceMax(7), niceMax(11), niceMax(200)]).toEqual([1, 5, 10, 20, 200]);
  });
});

describe("heat intensity", () => {
  it("scales against the largest cell, in five levels", () => {
    expect(heatIntensity(5, 10)).toBe(0.5);
    expect(heatIntensity(null, 10)).toBe(0);
    expect(heatIntensity(3, 0)).toBe(0);
    expect([0, 1, 2, 5, 10].map((v) => heatLevel(v, 10))).toEqual([0, 1, 1, 3, 5]);
    expect(heatOpacity(0)).toBe(0);
    expect(heatOpacity(1)).toBeLessThan(heatOpacity(5));
  });

  it("ranks the busiest cells, leaving out empty ones", () => {
    const cells = [
      { geohash: "tdr1b", lat: 0, lon: 0, value: 2 },
      { geohash: "tdr1a", lat: 0, lon: 0, value: 7 },
      { geohash: "tdr1c", lat: 0, lon: 0, value: 0 },
      { geohash: "tdr19", lat: 0, lon: 0, value: 2 },
    ];
    expect(topCells(cells, 2).map((c) => c.geohash)).toEqual(["tdr1a", "tdr19"]);
    expect(topCells(cells).length).toBe(3);
  });

  it("sizes a geohash cell by its precision", () => {
    const [[s, w], [n, e]] = cellBounds(12.97, 77.59, 5);
    expect(n - s).toBeCloseTo(180 / 2 ** 12, 10);
    expect(e - w).toBeCloseTo(360 / 2 ** 13, 10);
    expect([precisionForZoom(12), precisionForZoom(9), precisionForZoom(6), precisionForZoom(2)]).toEqual([5, 4, 3, 1]);
  });
});

describe("durations in words", () => {
  it("uses the two largest units", () => {
    expect(formatDuration(2 * 86_400 + 3 * 3_600 + 59, "en")).toBe("2 days 3 hours");
    expect(formatDuration(2 * 86_400 + 60, "en")).toBe("2 days");
    expect(formatDuration(45 * 60, "en")).toBe("45 minutes");
    expect(formatDuration(0, "en")).toBe("0 seconds");
    expect(formatDuration(3_600, "hi")).toMatch(/1 घंटा/);
    expect(formatDuration(null, "en")).toBeNull();
  });
});

describe("late events", () => {
  it("sums per category and window, largest first", () => {
    expect(
      lateRows([
        { window: "1h", geohash5: "tdr1a", category: "pothole", counts: { reported: 2, resolved: 1 } },
        { window: "1h", geohash5: "tdr1b", category: "pothole", counts: { reported: 1 } },
        { window: "1d", geohash5: "tdr1b", category: "streetlight", counts: { reported: 0 } },
        { window: "1m", geohash5: "tdr1b", category: "streetlight", counts: { reported: 1 } },
      ]),
    ).toEqual([
      { category: "pothole", window: "1h", total: 4 },
      { category: "streetlight", window: "1m", total: 1 },
    ]);
  });
});
