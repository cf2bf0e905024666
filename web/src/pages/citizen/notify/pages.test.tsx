import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { FeedPage, Preferences } from "../../../api/types";
import { makeUser, renderPage } from "../../../test/render";
import NotificationsPage from "../NotificationsPage";
import SettingsPage from "../SettingsPage";

let calls: Request[] = [];
function serve(handler: (request: Request) => Response) {
  calls = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      calls.push(request.clone());
      return handler(request);
    }),
  );
}
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const path = (r: Request) => `${r.method} ${new URL(r.url).pathname}`;

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

const feed: FeedPage = {
  unread: 1,
  next_cursor: null,
  items: [
    { id: "n1", moment: "status_changed", title: "Now in progress", body: "Crews are on it", link: null, issue_id: "i-1", created_at: "2026-01-01T00:00:00Z", read: false },
    { id: "n2", moment: "comment_added", title: "A comment", body: "Thanks", link: null, issue_id: null, created_at: "2026-01-01T00:00:00Z", read: true },
  ],
};

describe("notifications feed", () => {
  it("says unread in words, links to the issue, and marks one read", async () => {
    serve((r) => (r.method === "GET" ? json(feed) : new Response(null, { status: 204 })));
    renderPage(<NotificationsPage />, { user: makeUser(), path: "/me/notifications" });
    const unread = (await screen.findByRole("heading", { name: "Now in progress" })).closest("li")!;
    expect(within(unread).getByText("Unread")).toBeTruthy();
    expect(within(unread).getByRole("link", { name: "Open the report: Now in progress" }).getAttribute("href")).toBe("/issues/i-1");
    expect(screen.getByText("1 unread")).toBeTruthy();
    fireEvent.click(within(unread).getByRole("button", { name: "Mark as read: Now in progress" }));
    await screen.findByText("All caught up.");
    expect(within(unread).queryByText("Unread")).toBeNull();
    expect(calls.map(path)).toEqual(["GET /v1/me/notifications", "POST /v1/me/notifications/n1/read"]);
  });
});

const prefs: Preferences = {
  channels: ["email", "in_app", "push"],
  always_email: [],
  moments: {
    report_received: { email: true, in_app: true, push: false },
    assigned: { email: true, in_app: true, push: false },
    area_report: { email: false, in_app: true, push: false },
  },
};

describe("settings", () => {
  it("saves only what changed, and hides staff moments from a citizen", async () => {
    serve((r) => {
      if (path(r) === "GET /v1/me/notification-preferences") return json(prefs);
      if (path(r) === "GET /v1/me/watches") return json({ items: [] });
      return json({ ...prefs, moments: { ...prefs.moments, area_report: { email: true, in_app: true, push: false } } });
    });
    renderPage(<SettingsPage />, { user: makeUser("citizen"), path: "/me/settings" });
    const box = await screen.findByRole("checkbox", { name: "E-mail: a new report in an area you watch" });
    expect(screen.queryByRole("checkbox", { name: /a report was assigned to you/ })).toBeNull();
    const save = screen.getByRole("button", { name: "Save notification choices" });
    expect((save as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(box);
    fireEvent.click(save);
    await screen.findByText("Your notification choices are saved.");
    const put = calls.find((r) => r.method === "PUT")!;
    expect(await put.json()).toEqual({ moments: { area_report: { email: true } } });
    expect(put.headers.get("idempotency-key")).toBeTruthy();
    expect(sessionStorage.getItem("snapfix.draft.notify.preferences")).toBeNull();
  });

  it("checks a watch's coordinates before sending", async () => {
    serve((r) => (path(r) === "GET /v1/me/watches" ? json({ items: [] }) : json(prefs)));
    renderPage(<SettingsPage />, { user: makeUser("citizen"), path: "/me/settings" });
    await screen.findByText("You do not watch any area yet.");
    fireEvent.change(screen.getByLabelText(/^Latitude/), { target: { value: "95" } });
    fireEvent.change(screen.getByLabelText(/^Longitude/), { target: { value: "77.5" } });
    fireEvent.click(screen.getByRole("button", { name: "Add the area" }));
    expect(await screen.findByText("Enter a latitude between -90 and 90.")).toBeTruthy();
    await waitFor(() => expect(calls.filter((r) => r.method === "POST")).toHaveLength(0));
  });
});
