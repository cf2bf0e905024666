import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { resetConfigCache } from "../../lib/config";
import { renderPage } from "../../test/render";
import MapPage from "./MapPage";

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

interface Seen {
  url: URL;
  signal: AbortSignal | null | undefined;
}
let seen: Seen[] = [];
let hold: Promise<void> = Promise.resolve();

function serve() {
  seen = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(new URL(String(input), "http://localhost"), init);
      const url = new URL(request.url);
      if (url.pathname === "/config.json") return json({ defaultCenter: [12.9716, 77.5946], defaultZoom: 12 });
      if (url.pathname === "/v1/categories") return json({ items: [{ code: "pothole", name: "Pothole" }] });
      if (url.pathname === "/v1/map/cells") {
        seen.push({ url, signal: request.signal });
        const first = seen.length === 1;
        if (first) await hold;
        const count = url.searchParams.get("category") === "pothole" ? 3 : 1234;
        return json({ level: 14, cells: [{ cell: "14/1/1", count, bbox: [77.59, 12.97, 77.6, 12.98], lat: 12.975, lon: 77.595 }] });
      }
      return json({}, 404);
    }),
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
  resetConfigCache();
});

describe("MapPage", () => {
  it("draws server clusters with formatted counts, refetches on a filter (aborting the stale request) and keeps it in the URL", async () => {
    let release!: () => void;
    hold = new Promise((r) => (release = r));
    serve();
    const { router } = renderPage(<MapPage />, { path: "/", route: "/" });
    await waitFor(() => expect(seen.length).toBe(1));
    expect(seen[0]!.url.searchParams.get("level")).toBe("14"); // zoom 12 + 2
    expect(seen[0]!.url.searchParams.has("category")).toBe(false);

    await screen.findByRole("option", { name: "Pothole" });
    await userEvent.selectOptions(screen.getByLabelText("Category"), "pothole");
    await waitFor(() => expect(seen.length).toBe(2));
    expect(seen[0]!.signal?.aborted).toBe(true); // the stale one
    expect(seen[1]!.url.searchParams.get("category")).toBe("pothole");
    release();
    expect(await screen.findByRole("button", { name: "3 reports here, zoom in" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /1,234 reports/ })).toBeNull();
    expect(router.state.location.search).toContain("category=pothole");
    expect(screen.getByRole("link", { name: "View as a list" }).getAttribute("href")).toMatch(/^\/list\?category=pothole&bbox=/);
  });

  it("shows the count with Indian grouping", async () => {
    hold = Promise.resolve();
    serve();
    renderPage(<MapPage />, { path: "/", route: "/" });
    expect(await screen.findByRole("button", { name: "1,234 reports here, zoom in" })).toBeInTheDocument();
    // The status line follows the markers (a render later, once the layer is drawn).
    expect(await screen.findByText(/1,234 reports in this view/)).toBeInTheDocument();
  });
});
