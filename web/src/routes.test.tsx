import { render, screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SessionContext } from "./auth/session";
import { routes } from "./routes";
import { fakeSession, makeUser } from "./test/render";
import type { UserView } from "./api/types";

function renderAt(path: string, user: UserView | null = null) {
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  render(
    <SessionContext.Provider value={fakeSession(user)}>
      <RouterProvider router={router} />
    </SessionContext.Provider>,
  );
  return router;
}

const SCREENS: [string, string, UserView | null][] = [
  ["/", "Map of reports", null],
  ["/list", "Reports", null],
  ["/issues/abc", "Report", null],
  ["/signin", "Sign in", null],
  ["/signup", "Sign up", null],
  ["/password-reset?token=t", "Reset your password", null],
  ["/verify-email?token=t", "Verify your e-mail address", null],
  ["/unsubscribe?token=t", "Unsubscribe", null],
  ["/report", "Report an issue", makeUser("citizen")],
  ["/me/reports", "My reports", makeUser("citizen")],
  ["/me/following", "Reports I follow", makeUser("citizen")],
  ["/me/notifications", "Notifications", makeUser("citizen")],
  ["/me/settings", "Settings", makeUser("citizen")],
  ["/staff", "Staff queue", makeUser("staff")],
  ["/staff/issues/abc", "Issue", makeUser("staff")],
  ["/staff/analytics", "Analytics", makeUser("staff")],
  ["/admin/categories", "Categories", makeUser("admin")],
  ["/admin/users", "Users", makeUser("admin")],
  ["/admin/api-keys", "API keys", makeUser("admin")],
  ["/admin/webhooks", "Webhooks", makeUser("admin")],
  ["/no/such/page", "Page not found", null],
];

// Screens fill their pages in parallel: this checks each route loads ITS page file (not the 404,
// not the error page, not a redirect) inside the layout, and that the page sets a title. The
// placeholders' headings were the `titles.*` strings; a filled page may show its own.
beforeEach(() => {
  document.title = "";
  vi.stubGlobal(
    "fetch",
    vi.fn(async () =>
      new Response(JSON.stringify({ type: "about:blank", title: "Not Found", status: 404 }), {
        status: 404,
        headers: { "content-type": "application/problem+json" },
      }),
    ),
  );
});
afterEach(() => vi.unstubAllGlobals());

describe("routes", () => {
  it.each(SCREENS)("%s loads its page in the layout", async (path, heading, user) => {
    const router = renderAt(path, user);
    await waitFor(() => expect(document.title).toMatch(/ · SnapFix$/));
    expect(router.state.location.pathname).toBe(path.split("?")[0]);
    expect(screen.queryByText("Something went wrong")).toBeNull();
    if (path === "/no/such/page") {
      expect(screen.getByRole("heading", { level: 1, name: heading })).toBeInTheDocument();
    } else {
      expect(document.title).not.toBe("Page not found · SnapFix");
    }
    expect(screen.getByRole("main")).toHaveAttribute("id", "main");
    expect(screen.getByRole("link", { name: "Skip to content" })).toHaveAttribute("href", "#main");
  });

  it("sends a signed-out visitor from a citizen page to sign in", async () => {
    const router = renderAt("/me/reports");
    await waitFor(() => expect(router.state.location.pathname).toBe("/signin"));
    expect(router.state.location.search).toBe("?next=%2Fme%2Freports");
  });

  it("refuses the admin pages to staff", async () => {
    renderAt("/admin/users", makeUser("staff"));
    expect(await screen.findByRole("alert")).toHaveTextContent("not allowed");
  });

  it("shows each role its links", async () => {
    renderAt("/", makeUser("staff"));
    const nav = await screen.findByRole("navigation", { name: "Main" });
    expect(within(nav).getByRole("link", { name: "Queue" })).toBeInTheDocument();
    expect(within(nav).getByRole("link", { name: "My reports" })).toBeInTheDocument();
    expect(within(nav).queryByRole("link", { name: "Users" })).toBeNull();
  });

  it("shows a visitor only public links and sign in", async () => {
    renderAt("/");
    const nav = await screen.findByRole("navigation", { name: "Main" });
    expect(within(nav).getAllByRole("link").map((a) => a.textContent)).toEqual(["Map", "List"]);
    expect(screen.getByRole("link", { name: "Sign in" })).toBeInTheDocument();
  });
});
