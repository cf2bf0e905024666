import { fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeUser, renderPage } from "../../test/render";
import FollowingPage from "./FollowingPage";
import { POTHOLE } from "./report/fixtures";
import { Suggestions } from "./report/Suggestions";

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": status >= 400 ? "application/problem+json" : "application/json" } });
const summary = (id: string, title: string) => ({
  id,
  title,
  category: "pothole",
  status: "open",
  lat: 12.97,
  lon: 77.59,
  priority: "normal",
  votes: 0,
  created_at: "2026-03-01T08:00:00Z",
  overdue: false,
  distance_m: 42.4,
});

let requests: Request[] = [];
function serve(route: (url: URL, request: Request) => Response) {
  requests = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      requests.push(request);
      return route(new URL(request.url), request);
    }),
  );
}
beforeEach(() => sessionStorage.clear());
afterEach(() => vi.unstubAllGlobals());

describe("FollowingPage", () => {
  it("reads each followed issue and lists it; one that is gone stays listed by its link", async () => {
    serve((url) => {
      if (url.pathname === "/v1/categories") return json({ items: [POTHOLE] });
      if (url.pathname === "/v1/me/following")
        return json({ items: [{ issue_id: "a1", since: "2026-03-02T09:00:00Z" }, { issue_id: "gone", since: "2026-03-02T09:00:00Z" }], next_cursor: null });
      if (url.pathname === "/v1/issues/a1") return json(summary("a1", "Pothole at the market"));
      return json({ status: 404, title: "Not Found" }, 404);
    });
    renderPage(<FollowingPage />, { user: makeUser("citizen"), path: "/me/following" });
    expect(await screen.findByRole("link", { name: "Pothole at the market" })).toHaveAttribute("href", "/issues/a1");
    expect(screen.getByRole("link", { name: "(this report is no longer available)" })).toHaveAttribute("href", "/issues/gone");
    expect(screen.getAllByText(/Following since/)).toHaveLength(2);
  });

  it("has an empty state", async () => {
    serve((url) => (url.pathname === "/v1/me/following" ? json({ items: [] }) : json({ items: [] })));
    renderPage(<FollowingPage />, { user: makeUser("citizen"), path: "/me/following" });
    expect(await screen.findByText(/You are not following any reports yet/)).toBeInTheDocument();
  });
});

describe("Suggestions", () => {
  it("asks for open reports of the category near the pin and follows one", async () => {
    serve((url, request) => {
      if (url.pathname === "/v1/issues/suggestions") return json({ items: [summary("s1", "Same pothole")] });
      if (url.pathname === "/v1/issues/s1/follow" && request.method === "PUT") return json({ id: "s1", status: "accepted" }, 202);
      return json({ status: 404 }, 404);
    });
    render(
      <MemoryRouter>
        <Suggestions lat={12.97} lon={77.59} category="pothole" />
      </MemoryRouter>,
    );
    expect(await screen.findByRole("heading", { name: "Is it one of these?" })).toBeInTheDocument();
    const asked = new URL(requests[0]!.url);
    expect(Object.fromEntries(asked.searchParams)).toEqual({ lat: "12.97", lon: "77.59", category: "pothole" });
    expect(screen.getByRole("link", { name: "Same pothole" })).toHaveAttribute("href", "/issues/s1");
    expect(screen.getByText(/42 m away/)).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "Follow: Same pothole" }));
    expect(await screen.findByText("Following")).toBeInTheDocument();
    expect(requests.some((r) => r.method === "PUT" && new URL(r.url).pathname === "/v1/issues/s1/follow")).toBe(true);
  });

  it("asks nothing without a category", async () => {
    serve(() => json({ items: [] }));
    render(
      <MemoryRouter>
        <Suggestions lat={12.97} lon={77.59} category="" />
      </MemoryRouter>,
    );
    await new Promise((r) => setTimeout(r, 700));
    expect(requests).toHaveLength(0);
  });
});
