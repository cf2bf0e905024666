import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { gatewayStub } from "../../api/submitKey.stub";
import type { IssueDetail, ViewerState } from "../../api/types";
import { makeUser, renderPage } from "../../test/render";
import IssuePage from "./IssuePage";

const ID = "0b0e9c1a-0000-4000-8000-000000000001";
const REPORTER = "00000000-0000-4000-8000-000000000001"; // makeUser's id

function detail(over: Partial<IssueDetail> = {}): IssueDetail {
  return {
    id: ID,
    title: "Deep pothole",
    description: "Near the bus stop",
    category: "pothole",
    lat: 12.97,
    lon: 77.59,
    address: null,
    attributes: {},
    media_ids: [],
    anonymous: false,
    reporter_id: REPORTER,
    channel: "app",
    address_id: null,
    media_url: null,
    contact: null,
    device_id: null,
    account_id: null,
    status: "open",
    department: null,
    assignee_id: null,
    priority: "normal",
    created_at: "2026-01-01T10:00:00Z",
    updated_at: null,
    due_at: null,
    resolved_at: null,
    overdue: false,
    votes: 2,
    followers: 1,
    history: [],
    comments: [],
    photos: [],
    ...over,
  };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": status < 300 ? "application/json" : "application/problem+json" } });

let requests: Request[] = [];
const NOTHING_DONE: ViewerState = { voted: false, following: false, is_reporter: false };
/** Answers by path; `issue` is a list of answers for GET /v1/issues/{id}, the last repeated;
 * `viewer` the answer for GET /v1/issues/{id}/viewer. */
function serve(issue: (() => Response)[], viewer: () => Response | Promise<Response> = () => json(NOTHING_DONE)) {
  requests = [];
  let n = 0;
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      requests.push(request.clone());
      const path = new URL(request.url).pathname;
      if (path === `/v1/issues/${ID}`) return issue[Math.min(n++, issue.length - 1)]!();
      if (path === `/v1/issues/${ID}/viewer` && request.method === "GET") return viewer();
      if (path.startsWith("/v1/categories/")) return json({ code: "pothole", name: "Pothole", department: "roads", sla_hours: 48 });
      if (request.method !== "GET") return json({ id: ID, status: "accepted" }, 202);
      return json({ type: "about:blank", title: "Not Found", status: 404 }, 404);
    }),
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe("IssuePage", () => {
  it("says a new report is being processed while it 404s, then shows it", async () => {
    const notYet = () => json({ type: "about:blank", title: "Not Found", status: 404 }, 404);
    serve([notYet, () => json(detail())]);
    renderPage(<IssuePage />, { path: "/issues/:id", route: `/issues/${ID}` });
    expect(await screen.findByRole("heading", { level: 1, name: "Your report is being processed" })).toBeInTheDocument();
    expect(await screen.findByRole("heading", { level: 1, name: "Deep pothole" }, { timeout: 5000 })).toBeInTheDocument();
    expect(await screen.findByText("Pothole")).toBeInTheDocument();
  });

  it("marks internal comments for staff and shows the history", async () => {
    serve([
      () =>
        json(
          detail({
            status: "acknowledged",
            history: [{ at: "2026-01-02T10:00:00Z", from: "open", to: "acknowledged", note: "Crew booked", actor_id: null, duplicate_of: null, reason: null }],
            comments: [
              { id: "c1", author_id: null, body: "Public word", internal: false, created_at: "2026-01-02T11:00:00Z" },
              { id: "c2", author_id: null, body: "Staff only", internal: true, created_at: "2026-01-02T12:00:00Z" },
            ],
          }),
        ),
    ]);
    renderPage(<IssuePage />, { user: makeUser("staff", { id: "s1" }), path: "/issues/:id", route: `/issues/${ID}` });
    const internal = (await screen.findByText("Staff only")).closest("li")!;
    expect(within(internal).getByText("Internal")).toBeInTheDocument();
    const open = screen.getByText("Public word").closest("li")!;
    expect(within(open).queryByText("Internal")).toBeNull();
    expect(screen.getByText("Crew booked")).toBeInTheDocument();
  });

  it("focuses Reopen for the reporter from ?action=reopen and posts one key per submit", async () => {
    const resolvedAt = new Date(Date.now() - 2 * 24 * 3600 * 1000).toISOString();
    serve([() => json(detail({ status: "resolved", resolved_at: resolvedAt }))]);
    renderPage(<IssuePage />, { user: makeUser("citizen"), path: "/issues/:id", route: `/issues/${ID}?action=reopen` });
    const button = await screen.findByRole("button", { name: "Reopen" });
    await waitFor(() => expect(button).toHaveFocus());
    expect(screen.getByText(/within 30 days/)).toBeInTheDocument();
    await userEvent.click(button);
    const post = await waitFor(() => {
      const found = requests.find((r) => r.method === "POST" && r.url.endsWith("/transitions"));
      expect(found).toBeDefined();
      return found!;
    });
    expect(await post.json()).toEqual({ to: "reopened", note: "" });
    expect(post.headers.get("idempotency-key")).toBeTruthy();
  });

  it("offers no Reopen to someone else", async () => {
    serve([() => json(detail({ status: "resolved", resolved_at: new Date().toISOString() }))]);
    renderPage(<IssuePage />, { user: makeUser("citizen", { id: "someone-else" }), path: "/issues/:id", route: `/issues/${ID}?action=reopen` });
    await screen.findByRole("heading", { level: 1, name: "Deep pothole" });
    expect(screen.queryByRole("button", { name: "Reopen" })).toBeNull();
    expect(screen.getByText(/Only the reporter may reopen/)).toBeInTheDocument();
  });

  it("starts Vote and Follow as the viewer left them, and a press undoes it", async () => {
    serve([() => json(detail({ reporter_id: null, anonymous: true }))], () => json({ voted: true, following: true, is_reporter: false }));
    renderPage(<IssuePage />, { user: makeUser("citizen", { id: "neighbour" }), path: "/issues/:id", route: `/issues/${ID}` });
    const vote = await screen.findByRole("button", { name: /Voted/ });
    await waitFor(() => expect(vote).toHaveAttribute("aria-pressed", "true"));
    expect(vote).toBeEnabled();
    expect(screen.getByRole("button", { name: /Following/ })).toHaveAttribute("aria-pressed", "true");
    expect(requests.some((r) => new URL(r.url).pathname === `/v1/issues/${ID}/viewer`)).toBe(true);
    await userEvent.click(vote);
    await waitFor(() => expect(requests.some((r) => r.method === "DELETE" && r.url.endsWith("/vote"))).toBe(true));
    const after = await screen.findByRole("button", { name: "Vote" });
    expect(after).toHaveAttribute("aria-pressed", "false");
    expect(requests.some((r) => r.method === "POST" && r.url.endsWith("/vote"))).toBe(false);
  });

  it("keeps both buttons disabled until the viewer's state is known, then offers them unpressed", async () => {
    let answer: (r: Response) => void = () => undefined;
    const pending = new Promise<Response>((resolve) => (answer = resolve));
    serve([() => json(detail())], () => pending);
    renderPage(<IssuePage />, { user: makeUser("citizen", { id: "neighbour" }), path: "/issues/:id", route: `/issues/${ID}` });
    const vote = await screen.findByRole("button", { name: /Vote/ });
    expect(vote).toBeDisabled();
    expect(screen.getByRole("button", { name: /Follow/ })).toBeDisabled();
    answer(json(NOTHING_DONE));
    await waitFor(() => expect(vote).toBeEnabled());
    expect(vote).toHaveAttribute("aria-pressed", "false");
    expect(screen.getByRole("button", { name: /Follow/ })).toHaveAttribute("aria-pressed", "false");
  });

  it("offers Reopen to the reporter the API names when the report does not show its reporter", async () => {
    serve(
      [() => json(detail({ status: "resolved", resolved_at: new Date().toISOString(), reporter_id: null, anonymous: true }))],
      () => json({ voted: false, following: false, is_reporter: true }),
    );
    renderPage(<IssuePage />, { user: makeUser("citizen"), path: "/issues/:id", route: `/issues/${ID}` });
    expect(await screen.findByRole("button", { name: "Reopen" })).toBeInTheDocument();
  });
});

describe("IssuePage comment form", () => {
  it("keeps the typed comment per issue across a new visit; after a refusal the corrected comment goes with a fresh key", async () => {
    const posts: Request[] = [];
    const gateway = gatewayStub(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === `/v1/issues/${ID}`) return json(detail());
      if (path === `/v1/issues/${ID}/viewer`) return json(NOTHING_DONE);
      if (path.startsWith("/v1/categories/")) return json({ code: "pothole", name: "Pothole", department: "roads", sla_hours: 48 });
      if (path === `/v1/issues/${ID}/comments`) {
        posts.push(request.clone());
        const { body } = (await request.json()) as { body: string };
        return body.includes("http")
          ? json({ type: "about:blank", title: "Unprocessable", status: 422, detail: "Links are not allowed in comments." }, 422)
          : json({ id: "c9", status: "accepted" }, 202);
      }
      return json({ type: "about:blank", title: "Not Found", status: 404 }, 404);
    });
    vi.stubGlobal("fetch", vi.fn(gateway.fetch));
    const user = userEvent.setup();
    const first = renderPage(<IssuePage />, { user: makeUser("citizen"), path: "/issues/:id", route: `/issues/${ID}` });
    await user.type(await screen.findByLabelText(/^Your comment/), "Still there, see http://x");
    expect(JSON.parse(sessionStorage.getItem(`snapfix.draft.issue.${ID}.comment`)!)).toEqual({ body: "Still there, see http://x" });
    first.unmount(); // the session ended; the person signs in again and comes back

    renderPage(<IssuePage />, { user: makeUser("citizen"), path: "/issues/:id", route: `/issues/${ID}` });
    const box = await screen.findByLabelText(/^Your comment/);
    expect(box).toHaveValue("Still there, see http://x");
    await user.click(screen.getByRole("button", { name: "Post comment" }));
    expect(await screen.findByText("Links are not allowed in comments.")).toBeInTheDocument();
    expect(box).toHaveValue("Still there, see http://x"); // kept after a refusal
    await user.clear(box);
    await user.type(box, "Still there, near the bus stop");
    await user.click(screen.getByRole("button", { name: "Post comment" }));
    expect(await screen.findByText("Comment sent; it appears in a moment.")).toBeInTheDocument();
    expect(posts).toHaveLength(2);
    expect(posts[1]!.headers.get("idempotency-key")).not.toBe(posts[0]!.headers.get("idempotency-key"));
    expect(sessionStorage.getItem(`snapfix.draft.issue.${ID}.comment`)).toBeNull();
    expect(box).toHaveValue("");
  });
});
