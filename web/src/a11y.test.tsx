import { render, screen } from "@testing-library/react";
import axe from "axe-core";
import { createMemoryRouter, RouterProvider } from "react-router";
import { describe, expect, it } from "vitest";
import { SessionContext } from "./auth/session";
import { routes } from "./routes";
import { fakeSession, makeUser } from "./test/render";

// Structural checks in jsdom (names, labels, landmarks, ARIA). Colour contrast needs a real
// browser: the e2e tests run axe there.
describe("accessibility of the shell", () => {
  it.each([
    ["/", null],
    ["/staff", makeUser("admin")],
  ] as const)("%s has no serious or critical axe violations", async (path, user) => {
    const router = createMemoryRouter(routes, { initialEntries: [path] });
    render(
      <SessionContext.Provider value={fakeSession(user)}>
        <RouterProvider router={router} />
      </SessionContext.Provider>,
    );
    await screen.findByRole("heading", { level: 1 });
    const result = await axe.run(document.body, { rules: { "color-contrast": { enabled: false } } });
    const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(", ")}`)).toEqual([]);
  });
});
