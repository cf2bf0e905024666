import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { resetConfigCache } from "../../lib/config";
import { renderPage } from "../../test/render";
import ListPage from "./ListPage";

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const item = (n: number, category = "pothole") => ({
  id: `00000000-0000-4000-8000-00000000000${n}`,
  title: `Report ${n}`,
  category,
  status: "open",
  lat: 12.97,
  lon: 77.59,
  priority: "normal",
  votes: 1234567,
  created_at: "2026-01-01T10:00:00Z",
  overdue: false,
});

let mapRequests: URL[] = [];
function serve() {
  mapRequests = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(new URL(String(input), "http://localhost"), init);
      const url = new URL(request.url);
      if (url.pathname === "/config.json") return json({ defaultCenter: [10, 20] });
      if (url.pathname === "/v1/categories")
        return json({ items: [{ code: "pothole", name: "Pothole" }, { code: "drain", name: "Drain" }] });
      if (url.pathname === "/v1/map/issues") {
        mapRequests.push(url);
        const category = url.searchParams.get("category");
        if (category === "drain") return json({ items: [item(3, "drain")] });
        return url.searchParams.get("cursor") ? json({ items: [item(2)] }) : json({ items: [item(1)], next_cursor: "c2" });
      }
      return json({}, 404);
    }),
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
  resetConfigCache();
});

describe("ListPage", () => {
  it("lists the map's last view with links, badges, categories and votes, and pages", async () => {
    serve();
    renderPage(<ListPage />, { path: "/list", route: "/list?bbox=77.5,12.9,77.6,13&status=open" });
    expect(await screen.findByRole("link", { name: "Report 1" })).toHaveAttribute("href", "/issues/00000000-0000-4000-8000-000000000001");
    expect(screen.getByRole("heading", { level: 2, name: "Report 1" })).toBeInTheDocument();
    expect(await within(screen.getByRole("list")).findByText("Pothole")).toBeInTheDocument();
    expect(screen.getByText("12,34,567")).toBeInTheDocument(); // lakh grouping
    const first = mapRequests[0]!;
    expect(first.searchParams.get("bbox")).toBe("77.500000,12.900000,77.600000,13.000000");
    expect(first.searchParams.get("status")).toBe("open");
    expect(first.searchParams.get("limit")).toBe("20");
    await userEvent.click(screen.getByRole("button", { name: /Next/ }));
    expect(await screen.findByRole("link", { name: "Report 2" })).toBeInTheDocument();
    expect(mapRequests.at(-1)!.searchParams.get("cursor")).toBe("c2");
  });

  it("defaults to a city-wide box around the configured centre, and a filter resets paging", async () => {
    serve();
    const { router } = renderPage(<ListPage />, { path: "/list", route: "/list" });
    await screen.findByRole("link", { name: "Report 1" });
    const [w, s, e, n] = mapRequests[0]!.searchParams.get("bbox")!.split(",").map(Number) as [number, number, number, number];
    expect(w).toBeLessThan(20);
    expect(e).toBeGreaterThan(20);
    expect(s).toBeLessThan(10);
    expect(n).toBeGreaterThan(10);
    await userEvent.click(screen.getByRole("button", { name: /Next/ }));
    await screen.findByRole("link", { name: "Report 2" });
    await screen.findByRole("option", { name: "Drain" });
    await userEvent.selectOptions(screen.getByLabelText("Category"), "drain");
    expect(await screen.findByRole("link", { name: "Report 3" })).toBeInTheDocument();
    await waitFor(() => expect(router.state.location.search).toBe("?category=drain"));
    const last = mapRequests.at(-1)!;
    expect(last.searchParams.get("category")).toBe("drain");
    expect(last.searchParams.has("cursor")).toBe(false);
  });
});
