import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { makeUser, renderPage } from "../test/render";
import { RequireRole, safeNext } from "./RequireRole";

const guarded = (
  <RequireRole roles={["staff", "admin"]}>
    <p>the queue</p>
  </RequireRole>
);

describe("RequireRole", () => {
  it("sends a signed-out visitor to /signin with next", async () => {
    const { router } = renderPage(guarded, { path: "/staff", route: "/staff?status=open" });
    expect(await screen.findByText("signin page")).toBeInTheDocument();
    expect(router.state.location.pathname).toBe("/signin");
    expect(new URLSearchParams(router.state.location.search).get("next")).toBe("/staff?status=open");
  });
  it("lets staff in", () => {
    renderPage(guarded, { path: "/staff", user: makeUser("staff") });
    expect(screen.getByText("the queue")).toBeInTheDocument();
  });
  it("refuses a citizen", () => {
    renderPage(guarded, { path: "/staff", user: makeUser("citizen") });
    expect(screen.queryByText("the queue")).toBeNull();
    expect(screen.getByRole("alert")).toHaveTextContent("not allowed");
  });
});

describe("safeNext", () => {
  it("keeps paths on this site only", () => {
    expect(safeNext("/me/reports?x=1")).toBe("/me/reports?x=1");
    expect(safeNext("//evil.example")).toBe("/");
    expect(safeNext("https://evil.example")).toBe("/");
    expect(safeNext("/\\evil.example")).toBe("/");
    expect(safeNext(null)).toBe("/");
  });
});
