import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { fakeSession, makeUser, renderPage } from "../test/render";
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
  it("says SnapFix cannot be reached, offers a retry and does not send the user to sign in", () => {
    const reload = vi.fn(async () => null);
    const { router } = renderPage(guarded, { path: "/staff", session: fakeSession(null, { status: "unreachable", reload }) });
    expect(router.state.location.pathname).toBe("/staff");
    expect(screen.getByRole("alert")).toHaveTextContent("Cannot reach SnapFix right now");
    expect(screen.queryByText("the queue")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(reload).toHaveBeenCalledTimes(1);
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
  it("refuses what the URL parser would take off this site", () => {
    for (const tricky of [
      "//x",
      "/\\x",
      "/\t/x",
      "/\t/evil.example",
      "/\n/evil.example",
      "\t//x",
      "javascript:alert(1)",
      "https://x",
      "/\\\\x",
      "/.//x",
      "",
    ]) {
      expect([tricky, safeNext(tricky)]).toEqual([tricky, "/"]);
    }
  });
  it("returns the normalised path, query and fragment", () => {
    expect(safeNext("/issues/1?tab=x#c2")).toBe("/issues/1?tab=x#c2");
    expect(safeNext("/a/../me")).toBe("/me");
  });
});
