import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { gatewayStub } from "../../../api/submitKey.stub";
import type { FeedPage, Preferences, WatchView } from "../../../api/types";
import { makeUser, renderPage } from "../../../test/render";
import NotificationsPage from "../NotificationsPage";
import SettingsPage from "../SettingsPage";

let calls: Request[] = [];
/** Answers through a gateway-like stub: POST answers are kept per Idempotency-Key and replayed. */
function serve(handler: (request: Request) => Response) {
  const gateway = gatewayStub(handler);
  calls = gateway.calls;
  vi.stubGlobal("fetch", vi.fn(gateway.fetch));
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

  it("after a refusal (20 watches at most) the same Add, once one is removed, goes with a fresh key", async () => {
    const old: WatchView = { id: "w1", lat: 12.9, lon: 77.5, radius_m: 500, cells: ["c"], categories: [], digest: false, created_at: "2026-01-01T00:00:00Z" };
    const made: WatchView = { ...old, id: "w2", lat: 13, lon: 77.6 };
    let posts = 0;
    serve((r) => {
      if (path(r) === "GET /v1/me/watches") return json({ items: [old] });
      if (path(r) === "DELETE /v1/me/watches/w1") return new Response(null, { status: 204 });
      if (path(r) === "POST /v1/me/watches") {
        return posts++ === 0
          ? new Response(JSON.stringify({ type: "about:blank", title: "Conflict", status: 409, detail: "You watch 20 areas at most." }), {
              status: 409,
              headers: { "content-type": "application/problem+json" },
            })
          : json(made, 201);
      }
      return json(prefs);
    });
    renderPage(<SettingsPage />, { user: makeUser("citizen"), path: "/me/settings" });
    const remove = await screen.findByRole("button", { name: /^Remove the watch/ });
    fireEvent.change(screen.getByLabelText(/^Latitude/), { target: { value: "13" } });
    fireEvent.change(screen.getByLabelText(/^Longitude/), { target: { value: "77.6" } });
    fireEvent.click(screen.getByRole("button", { name: "Add the area" }));
    expect(await screen.findByText("You watch 20 areas at most.")).toBeTruthy();
    fireEvent.click(remove);
    await screen.findByText("The watch is removed.");
    fireEvent.click(screen.getByRole("button", { name: "Add the area" }));
    await screen.findByText("The area is added.");
    const sent = calls.filter((r) => path(r) === "POST /v1/me/watches");
    expect(sent).toHaveLength(2);
    expect(await sent[1]!.json()).toEqual(await sent[0]!.json()); // the identical request...
    expect(sent[1]!.headers.get("idempotency-key")).not.toBe(sent[0]!.headers.get("idempotency-key")); // ...with a fresh key
    expect(posts).toBe(2); // processed, not the kept 409 replayed
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
