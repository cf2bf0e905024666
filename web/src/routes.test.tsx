import { render, screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { describe, expect, it } from "vitest";
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

describe("routes", () => {
  it.each(SCREENS)("%s shows its page and sets the title", async (path, heading, user) => {
    renderAt(path, user);
    expect(await screen.findByRole("heading", { level: 1, name: heading })).toBeInTheDocument();
    await waitFor(() => expect(document.title).toBe(`${heading} · SnapFix`));
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
