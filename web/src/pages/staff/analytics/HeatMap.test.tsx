import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renderPage } from "../../../test/render";
import { HeatMap, tooltipContent } from "./HeatMap";

const HOSTILE = "<img src=x onerror=alert(1)>";

const json = (body: unknown, status = 200, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": type } });

beforeEach(() => {
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      const url = new URL(request.url);
      if (url.pathname === "/config.json") return json({}, 404);
      if (url.pathname === "/v1/analytics/heatmap")
        return json({ measure: "reported", precision: 5, cells: [{ geohash: HOSTILE, lat: 12.97, lon: 77.59, value: 4 }] });
      return json({ type: "about:blank", title: "Not Found", status: 404 }, 404, "application/problem+json");
    }),
  );
});
afterEach(() => vi.unstubAllGlobals());

describe("the heatmap's tooltip", () => {
  it("holds its text as text, never as markup", () => {
    const element = tooltipContent(`Area ${HOSTILE}: 4 reports`);
    expect(element.textContent).toBe(`Area ${HOSTILE}: 4 reports`);
    expect(element.querySelector("img")).toBeNull();
    expect(element.childNodes).toHaveLength(1);
    expect(element.firstChild?.nodeType).toBe(Node.TEXT_NODE);
  });

  it("shows an API geohash holding markup as text when a cell is hovered", async () => {
    const range = { from: new Date("2026-01-01T00:00:00Z"), to: new Date("2026-01-02T00:00:00Z"), window: "1h" as const };
    const { container } = renderPage(<HeatMap range={range} category="" locale="en" />, { path: "/staff/analytics" });
    // the ranked table shows it (React escapes it) once the answer is in
    await screen.findByRole("table", { name: "The busiest areas in view" });
    const cell = await waitFor(() => {
      const found = container.querySelector(".heat-cell");
      expect(found).not.toBeNull();
      return found!;
    });
    fireEvent.mouseOver(cell);
    const tooltip = await waitFor(() => {
      const found = document.querySelector(".leaflet-tooltip");
      expect(found).not.toBeNull();
      return found!;
    });
    expect(tooltip.textContent).toContain(`Area ${HOSTILE}: 4 reports`);
    expect(tooltip.querySelector("img")).toBeNull();
    expect(document.querySelector("img[src='x']")).toBeNull();
  });
});
