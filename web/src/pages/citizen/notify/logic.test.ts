import { describe, expect, it } from "vitest";
import type { FeedPage, NotificationItem, Preferences } from "../../../api/types";
import {
  choice,
  formatCoordinate,
  formatRadius,
  groupsFor,
  issuePath,
  markAllRead,
  markOneRead,
  pendingChanges,
  toggle,
  watchRequest,
} from "./logic";

function item(id: string, read: boolean): NotificationItem {
  return { id, moment: "status_changed", title: `t${id}`, body: "b", link: null, issue_id: "i1", created_at: "2026-01-01T00:00:00Z", read };
}
const page: FeedPage = { items: [item("a", false), item("b", true), item("c", false)], unread: 7, next_cursor: "x" };

describe("feed", () => {
  it("marks one read, counting down the whole feed's unread once", () => {
    const once = markOneRead(page, "a");
    expect(once.items.map((i) => i.read)).toEqual([true, true, false]);
    expect(once.unread).toBe(6);
    expect(markOneRead(once, "a")).toBe(once); // already read: unchanged
    expect(markOneRead(page, "b")).toBe(page);
    expect(markOneRead(page, "nope")).toBe(page);
    expect(page.items[0]!.read).toBe(false); // not mutated
  });

  it("marks all read", () => {
    const all = markAllRead(page);
    expect(all.unread).toBe(0);
    expect(all.items.every((i) => i.read)).toBe(true);
    expect(all.next_cursor).toBe("x");
  });

  it("links to the issue's page in the app", () => {
    expect(issuePath("abc")).toBe("/issues/abc");
    expect(issuePath(null)).toBeNull();
  });
});

const prefs: Preferences = {
  channels: ["email", "in_app", "push"],
  always_email: ["verify_email"],
  moments: {
    report_received: { email: true, in_app: true, push: false },
    followed_comment_added: { email: false, in_app: true, push: false },
    assigned: { email: true, in_app: true, push: false },
    area_report: { email: false, in_app: true, push: false },
  },
};

describe("preferences", () => {
  it("offers staff moments to staff only, and only moments the API knows", () => {
    expect(groupsFor(prefs, "citizen").map((g) => g.key)).toEqual(["ownReports", "followed", "areas"]);
    expect(groupsFor(prefs, "staff").map((g) => g.key)).toEqual(["ownReports", "followed", "staffWork", "areas"]);
    expect(groupsFor(prefs, "citizen")[0]!.moments).toEqual(["report_received"]);
  });

  it("keeps only the differences from the saved choices: the partial update the API takes", () => {
    let changes = toggle(prefs, {}, "followed_comment_added", "email", true);
    expect(changes).toEqual({ followed_comment_added: { email: true } });
    expect(choice(prefs, changes, "followed_comment_added", "email")).toBe(true);
    changes = toggle(prefs, changes, "report_received", "email", false);
    expect(changes).toEqual({ followed_comment_added: { email: true }, report_received: { email: false } });
    changes = toggle(prefs, changes, "followed_comment_added", "email", false); // back to saved
    expect(changes).toEqual({ report_received: { email: false } });
    expect(choice(prefs, changes, "followed_comment_added", "email")).toBe(false);
  });

  it("drops a stale or forged draft's entries", () => {
    const draft = {
      report_received: { email: true, push: true }, // email is saved true already
      unknown_moment: { email: true },
      area_report: { fax: true, in_app: "yes" },
    } as unknown as Record<string, Record<string, boolean>>;
    expect(pendingChanges(prefs, draft)).toEqual({ report_received: { push: true } });
  });
});

describe("watch form", () => {
  it("builds the request, accepting a decimal comma", () => {
    expect(watchRequest({ lat: "12.9716", lon: " 77,5946 ", radius: "800", digest: true })).toEqual({
      request: { lat: 12.9716, lon: 77.5946, radius_m: 800, digest: true },
    });
  });

  it("names every field out of the API's bounds", () => {
    expect(watchRequest({ lat: "91", lon: "abc", radius: "0", digest: false })).toEqual({
      errors: { lat: true, lon: true, radius: true },
    });
    expect(watchRequest({ lat: "", lon: "-180", radius: "50001", digest: false })).toEqual({ errors: { lat: true, radius: true } });
    expect(watchRequest({ lat: "-90", lon: "180", radius: "50000", digest: false })).toHaveProperty("request");
    expect(watchRequest({ lat: "1e3", lon: "0", radius: "10", digest: false })).toEqual({ errors: { lat: true } });
  });

  it("formats coordinates and radii for reading", () => {
    expect(formatCoordinate(12.971612345)).toBe("12.971612");
    expect(formatCoordinate(77.5)).toBe("77.5");
    expect(formatCoordinate(-3)).toBe("-3");
    expect(formatRadius(500, "en")).toBe("500 m");
    expect(formatRadius(1500, "en")).toBe("1.5 km");
  });
});
