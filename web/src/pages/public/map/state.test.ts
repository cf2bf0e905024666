import { describe, expect, it } from "vitest";
import type { IssueDetail } from "../../../api/types";
import {
  canReopen,
  cellCount,
  cityBbox,
  filterQuery,
  formatBbox,
  issueReducer,
  levelForView,
  MAX_CELLS,
  mapRequest,
  modeForZoom,
  parseBbox,
  parseFilters,
  parseView,
  photoUrl,
  withQuery,
  type Bbox,
  type IssueState,
} from "./state";

const BENGALURU: Bbox = [77.55, 12.95, 77.65, 13.0];

describe("filters in the URL", () => {
  it("reads a valid status and category and ignores malformed ones", () => {
    expect(parseFilters(new URLSearchParams("status=resolved&category=pothole"))).toEqual({ status: "resolved", category: "pothole" });
    expect(parseFilters(new URLSearchParams("status=bogus&category=Not%20A%20Code"))).toEqual({ status: null, category: null });
    expect(parseFilters(new URLSearchParams(""))).toEqual({ status: null, category: null });
  });

  it("sets and removes keys, keeping the others", () => {
    const next = withQuery(new URLSearchParams("lat=12.9&lon=77.5&z=12&status=open"), { status: null, category: "streetlight" });
    expect(next.get("lat")).toBe("12.9");
    expect(next.has("status")).toBe(false);
    expect(next.get("category")).toBe("streetlight");
  });

  it("carries the filters and the bbox to the list", () => {
    expect(filterQuery({ status: null, category: null })).toBe("");
    const q = new URLSearchParams(filterQuery({ status: "open", category: "pothole" }, BENGALURU).slice(1));
    expect(q.get("status")).toBe("open");
    expect(q.get("category")).toBe("pothole");
    expect(parseBbox(q.get("bbox"))).toEqual(BENGALURU);
  });

  it("reads the map's view, refusing out-of-range values", () => {
    expect(parseView(new URLSearchParams("lat=12.97&lon=77.59&z=14"))).toEqual({ lat: 12.97, lon: 77.59, zoom: 14 });
    expect(parseView(new URLSearchParams("lat=99&lon=77.59&z=14"))).toBeNull();
    expect(parseView(new URLSearchParams("lat=12&lon=77&z=x"))).toBeNull();
    expect(parseView(new URLSearchParams("lat=12&lon=77"))).toBeNull();
  });
});

describe("bboxes", () => {
  it("formats as the API's pattern (no exponent, six decimals, clamped)", () => {
    expect(formatBbox([-200, -89, 0.0000001, 89])).toBe("-180.000000,-85.051129,0.000000,85.051129");
    expect(formatBbox(BENGALURU)).toMatch(/^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$/);
  });

  it("parses only four finite numbers with south below north", () => {
    expect(parseBbox("1,2,3")).toBeNull();
    expect(parseBbox("1,5,3,4")).toBeNull();
    expect(parseBbox("a,b,c,d")).toBeNull();
    expect(parseBbox("77.5,12.9,77.6,13")).toEqual([77.5, 12.9, 77.6, 13]);
  });

  it("makes a city-wide box around a centre", () => {
    const [w, s, e, n] = cityBbox([12.9716, 77.5946]);
    expect(w).toBeLessThan(77.5946);
    expect(e).toBeGreaterThan(77.5946);
    expect(s).toBeLessThan(12.9716);
    expect(n).toBeGreaterThan(12.9716);
  });
});

describe("cluster level from the zoom", () => {
  it("is two above the zoom (64 px cells) when the viewport allows", () => {
    expect(levelForView(12, BENGALURU)).toBe(14);
    expect(levelForView(3, BENGALURU)).toBe(5);
  });

  it("never exceeds 20 nor goes below 1", () => {
    expect(levelForView(19, [77.59, 12.97, 77.5905, 12.9705])).toBe(20);
    expect(levelForView(0, [-180, -85, 180, 85])).toBeGreaterThanOrEqual(1);
  });

  it("is lowered until the viewport needs at most MAX_CELLS cells", () => {
    const world: Bbox = [-180, -85, 180, 85];
    const level = levelForView(10, world);
    expect(cellCount(level, world)).toBeLessThanOrEqual(MAX_CELLS);
    expect(cellCount(level + 1, world)).toBeGreaterThan(MAX_CELLS);
  });

  it("counts the cells as the server does, across the antimeridian too", () => {
    expect(cellCount(1, [-180, -85, 180, 85])).toBe(4);
    expect(cellCount(2, [170, 0, -170, 10])).toBe(2);
  });

  it("switches from clusters to markers at zoom 15", () => {
    expect(modeForZoom(14)).toBe("clusters");
    expect(modeForZoom(15)).toBe("markers");
  });

  it("shapes the request per mode with the filters", () => {
    const cells = mapRequest("clusters", 12, BENGALURU, { status: "open", category: null });
    expect(cells.path).toBe("/v1/map/cells");
    expect(cells.searchParams).toMatchObject({ level: 14, status: "open" });
    expect(cells.searchParams).not.toHaveProperty("category");
    const issues = mapRequest("markers", 16, BENGALURU, { status: null, category: "pothole" });
    expect(issues.path).toBe("/v1/map/issues");
    expect(issues.searchParams).toMatchObject({ category: "pothole", limit: 200 });
    expect(issues.searchParams).not.toHaveProperty("level");
  });
});

const issue = (over: Partial<IssueDetail> = {}) => ({ status: "resolved", reporter_id: "u1", resolved_at: "2026-01-01T00:00:00Z", ...over }) as IssueDetail;

describe("reopening", () => {
  const now = new Date("2026-01-20T00:00:00Z");
  it("is the reporter's, on a resolved issue, within 30 days", () => {
    expect(canReopen(issue(), "u1", now)).toBe(true);
    expect(canReopen(issue(), "u2", now)).toBe(false);
    expect(canReopen(issue(), null, now)).toBe(false);
    expect(canReopen(issue(), "u1", new Date("2026-02-05T00:00:00Z"))).toBe(false);
  });

  it("is offered on a closed issue too, within 30 days of its resolution (rules.py)", () => {
    expect(canReopen(issue({ status: "closed" }), "u1", now)).toBe(true);
    expect(canReopen(issue({ status: "closed" }), "u2", now)).toBe(false);
    // the window runs from resolved_at, not from the closing
    expect(canReopen(issue({ status: "closed" }), "u1", new Date("2026-01-31T00:00:00Z"))).toBe(true);
    expect(canReopen(issue({ status: "closed" }), "u1", new Date("2026-01-31T00:00:01Z"))).toBe(false);
  });

  it("is not offered without a resolution time, nor on other statuses", () => {
    expect(canReopen(issue({ resolved_at: null }), "u1", now)).toBe(false);
    expect(canReopen(issue({ status: "closed", resolved_at: null }), "u1", now)).toBe(false);
    for (const status of ["open", "acknowledged", "in_progress", "reopened", "rejected", "duplicate", "withdrawn"]) {
      expect(canReopen(issue({ status } as Partial<IssueDetail>), "u1", now)).toBe(false);
    }
  });
});

describe("the issue page's reducer", () => {
  it("shows 'processing' while a new report 404s, then not found", () => {
    let s: IssueState = { kind: "loading", attempt: 0 };
    s = issueReducer(s, { type: "missing", maxAttempts: 3 });
    expect(s).toEqual({ kind: "processing", attempt: 1 });
    s = issueReducer(s, { type: "missing", maxAttempts: 3 });
    expect(s).toEqual({ kind: "processing", attempt: 2 });
    s = issueReducer(s, { type: "missing", maxAttempts: 3 });
    expect(s).toEqual({ kind: "notFound" });
  });

  it("keeps a shown issue on a failed refresh, and shows a rejection", () => {
    const ready: IssueState = { kind: "ready", issue: issue() };
    expect(issueReducer(ready, { type: "failed", error: new Error("x") })).toBe(ready);
    expect(issueReducer(ready, { type: "missing", maxAttempts: 3 })).toBe(ready);
    expect(issueReducer({ kind: "processing", attempt: 1 }, { type: "rejected", reason: "blurry" })).toEqual({
      kind: "rejected",
      reason: "blurry",
    });
    expect(issueReducer({ kind: "processing", attempt: 1 }, { type: "loaded", issue: issue() }).kind).toBe("ready");
  });
});

describe("photo variants", () => {
  it("prefers the asked variant, then any", () => {
    const urls = { thumb: "/t", large: "/l" };
    expect(photoUrl(urls, ["thumb"])).toBe("/t");
    expect(photoUrl(urls, ["medium", "large"])).toBe("/l");
    expect(photoUrl({ "thumb.webp": "/tw" }, ["thumb"])).toBe("/tw");
    expect(photoUrl(null, ["thumb"])).toBeNull();
  });
});
