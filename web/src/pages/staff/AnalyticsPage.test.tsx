import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeUser, renderPage } from "../../test/render";
import AnalyticsPage from "./AnalyticsPage";

const json = (body: unknown, status = 200, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": type } });

let requests: URL[];

beforeEach(() => {
  requests = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      const url = new URL(request.url);
      requests.push(url);
      if (url.pathname === "/config.json") return json({}, 404);
      if (url.pathname === "/v1/categories")
        return json({ items: [{ code: "pothole", name: "Pothole", department: "roads", sla_hours: 48 }] });
      if (url.pathname === "/v1/analytics/summary")
        return json({
          counts: { reported: 123456, resolved: 7, sla_breached: 1, rejected: 0 },
          time_to_acknowledge: { count: 3, p50_s: 5400, p90_s: 7200 },
          time_to_resolve: { count: 2, p50_s: 2 * 86_400 + 3 * 3_600, p90_s: null },
          open_backlog: 42,
          overdue_open: 5,
          late: {},
        });
      if (url.pathname === "/v1/analytics/timeseries") {
        const from = url.searchParams.get("from")!;
        const value = url.searchParams.get("measure") === "reported" ? 4 : 1;
        return json({ window: url.searchParams.get("window"), measure: url.searchParams.get("measure"), points: [{ start: from, value }] });
      }
      if (url.pathname === "/v1/analytics/heatmap")
        return json({ measure: "reported", precision: 5, cells: [{ geohash: "tdr1v", lat: 12.97, lon: 77.59, value: 4 }] });
      if (url.pathname === "/v1/analytics/late")
        return json([{ window: "1h", geohash5: "tdr1v", category: "pothole", counts: { reported: 2 } }]);
      return json({ type: "about:blank", title: "Not Found", status: 404 }, 404, "application/problem+json");
    }),
  );
});
afterEach(() => vi.unstubAllGlobals());

describe("AnalyticsPage", () => {
  it("shows the summary, the series as a table, the busiest areas and late events from the URL's filters", async () => {
    renderPage(<AnalyticsPage />, { user: makeUser("staff"), path: "/staff/analytics", route: "/staff/analytics?period=24h&category=pothole" });
    expect(screen.getByRole("heading", { level: 1, name: "Analytics" })).toBeInTheDocument();
    const opened = await screen.findByText("Reports opened");
    expect(opened.closest(".analytics-card")).toHaveTextContent("1,23,456"); // lakh grouping
    expect(screen.getByText("Median time to resolve").closest(".analytics-card")).toHaveTextContent("2 days 3 hours");
    expect(screen.getByText("Median time to acknowledge").closest(".analytics-card")).toHaveTextContent("1 hour 30 minutes");

    const summary = await screen.findByRole("img", { name: /^4 reports opened and 1 resolved over 24 hours/ });
    expect(summary).toBeInTheDocument();
    const table = screen.getByRole("table", { name: "Reports opened and resolved per period" });
    expect(within(table).getAllByRole("row")).toHaveLength(25);

    const ranked = await screen.findByRole("table", { name: "The busiest areas in view" });
    expect(within(ranked).getAllByRole("row")[1]).toHaveTextContent(/tdr1v.*4.*Level 5 of 5/);
    const late = await screen.findByRole("table", { name: "Late events" });
    expect(within(late).getAllByRole("row")[1]).toHaveTextContent(/Pothole.*Hour.*2/);

    const summaryCall = requests.find((u) => u.pathname === "/v1/analytics/summary")!;
    expect(summaryCall.searchParams.get("category")).toBe("pothole");
    expect(summaryCall.searchParams.get("from")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:00:00Z$/);
    const series = requests.filter((u) => u.pathname === "/v1/analytics/timeseries");
    expect(series.map((u) => [u.searchParams.get("measure"), u.searchParams.get("window")])).toEqual([
      ["reported", "1h"],
      ["resolved", "1h"],
    ]);
  });

  it("keeps the filters in the URL and refuses a reversed custom range", async () => {
    const { router } = renderPage(<AnalyticsPage />, { user: makeUser("staff"), path: "/staff/analytics" });
    const user = userEvent.setup();
    await screen.findByText("Reports opened");
    await user.selectOptions(screen.getByLabelText("Period"), "custom");
    await user.type(screen.getByLabelText("From (date)"), "2026-11-10");
    await user.type(screen.getByLabelText("To (date, included)"), "2026-11-01");
    await user.click(screen.getByRole("button", { name: "Show" }));
    await waitFor(() => expect(router.state.location.search).toBe("?period=custom&from=2026-11-10&to=2026-11-01"));
    expect(screen.getByRole("alert")).toHaveTextContent("The start date must not be after the end date.");
  });
});
