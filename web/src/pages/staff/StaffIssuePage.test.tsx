import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { IssueDetail } from "../../api/types";
import { makeUser, renderPage } from "../../test/render";
import StaffIssuePage from "./StaffIssuePage";

const ID = "0190a2b4-1c3d-7e5f-8a9b-00000000000a";
const ME = "00000000-0000-4000-8000-000000000001"; // makeUser's id
const MEERA = "0190a2b4-1c3d-7e5f-8a9b-0000000000e1";
const RAVI = "0190a2b4-1c3d-7e5f-8a9b-0000000000e2";
const json = (body: unknown, status = 200, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": type } });

function detail(extra: Partial<IssueDetail> = {}): IssueDetail {
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
    reporter_id: null,
    channel: "app",
    address_id: null,
    media_url: null,
    contact: null,
    device_id: null,
    account_id: null,
    status: "acknowledged",
    department: "roads",
    assignee_id: null,
    priority: "normal",
    created_at: "2026-01-01T00:00:00Z",
    updated_at: null,
    due_at: null,
    resolved_at: null,
    overdue: false,
    votes: 2,
    followers: 1,
    history: [],
    comments: [
      { id: "c1", author_id: null, body: "Crew notified", internal: true, created_at: "2026-01-01T01:00:00Z" },
      { id: "c2", author_id: null, body: "Thanks!", internal: false, created_at: "2026-01-01T02:00:00Z" },
    ],
    photos: [],
    ...extra,
  };
}

let requests: Request[];
let current: IssueDetail;
let categories: unknown;
/** Another issue (the one a duplicate-of link leads to), and whether A's transitions apply at once. */
const ID_B = "0190a2b4-1c3d-7e5f-8a9b-00000000000b";
let other: IssueDetail;
let applyTransitions: boolean;

beforeEach(() => {
  requests = [];
  current = detail();
  other = detail({ id: ID_B, title: "Broken streetlight", status: "acknowledged", comments: [] });
  applyTransitions = true;
  categories = {
    items: [
      {
        code: "pothole",
        name: "Pothole",
        department: "roads",
        sla_hours: 48,
        canned_responses: [{ id: "fixed", title: "Fixed", body: "Filled and rolled. Thank you." }],
      },
    ],
  };
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      requests.push(request.clone());
      const url = new URL(request.url);
      if (url.pathname === "/v1/categories") return json(categories);
      if (url.pathname === "/v1/staff/directory")
        return json({
          items: [
            { id: MEERA, display_name: "Meera", departments: ["roads"] },
            { id: RAVI, display_name: "Ravi", departments: ["roads", "parks"] },
            { id: ME, display_name: "Test staff", departments: ["roads"] },
          ],
        });
      if (url.pathname === `/v1/issues/${ID}` && request.method === "GET") return json(current);
      if (url.pathname === `/v1/issues/${ID_B}` && request.method === "GET") return json(other);
      if (url.pathname === `/v1/issues/${ID_B}/transitions`) return json({ id: ID_B, status: "accepted" }, 202);
      if (url.pathname === `/v1/issues/${ID}/transitions`) {
        const body = (await request.json()) as { to: IssueDetail["status"] };
        if (applyTransitions) current = { ...current, status: body.to };
        return json({ id: ID, status: "accepted" }, 202);
      }
      if (url.pathname === `/v1/issues/${ID}/assignment`) {
        const body = (await request.json()) as Partial<IssueDetail>;
        current = { ...current, ...body };
        return json({ id: ID, status: "accepted" }, 202);
      }
      if (url.pathname === `/v1/issues/${ID}/comments`) {
        const body = (await request.json()) as { body: string; internal: boolean };
        current = {
          ...current,
          comments: [...current.comments, { id: "c3", author_id: null, created_at: "2026-01-02T00:00:00Z", ...body }],
        };
        return json({ id: "c3", status: "accepted" }, 202);
      }
      return json({ type: "about:blank", title: "Not Found", status: 404 }, 404, "application/problem+json");
    }),
  );
});
afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

const render = () =>
  renderPage(<StaffIssuePage />, { user: makeUser("staff"), path: "/staff/issues/:id", route: `/staff/issues/${ID}` });

describe("StaffIssuePage", () => {
  it("offers only the moves staff may make and marks internal comments", async () => {
    render();
    await screen.findByRole("heading", { level: 1, name: "Deep pothole" });
    const moves = screen.getByRole("heading", { name: "Change the status" }).parentElement!;
    const names = within(moves)
      .getAllByRole("button")
      .map((b) => b.textContent);
    expect(names).toEqual(["Start work (in progress)", "Resolve", "Reject", "Mark as duplicate"]);
    const internal = screen.getByText("Crew notified").closest("li")!;
    expect(within(internal).getByText("Internal")).toBeInTheDocument();
    expect(within(screen.getByText("Thanks!").closest("li")!).queryByText("Internal")).toBeNull();
  });

  it("refuses a rejection without a reason before sending anything", async () => {
    const user = userEvent.setup();
    render();
    await user.click(await screen.findByRole("button", { name: "Reject" }));
    expect(await screen.findByText("Give a reason for rejecting.")).toBeInTheDocument();
    expect(requests.filter((r) => r.method === "POST")).toHaveLength(0);
  });

  it("moves the issue, then polls until it shows and says Saved", async () => {
    const user = userEvent.setup();
    render();
    await user.selectOptions(await screen.findByLabelText("Fill the note from a canned response"), "fixed");
    expect(screen.getByLabelText("Note for the reporter")).toHaveValue("Filled and rolled. Thank you.");
    await user.click(screen.getByRole("button", { name: "Resolve" }));
    await screen.findByText("Saved");
    const post = requests.find((r) => r.method === "POST")!;
    expect(post.headers.get("Idempotency-Key")).toBeTruthy();
    expect(await post.json()).toEqual({ to: "resolved", note: "Filled and rolled. Thank you." });
    await waitFor(() => expect(screen.getByRole("button", { name: "Close" })).toBeInTheDocument());
    expect(screen.getByLabelText("Note for the reporter")).toHaveValue("");
    expect(screen.getByLabelText("Fill the note from a canned response")).toHaveValue("");
  });

  it("sends an internal comment filled from a canned response and edited", async () => {
    const user = userEvent.setup();
    render();
    await user.selectOptions(await screen.findByLabelText("Fill the comment from a canned response"), "fixed");
    const box = screen.getByRole("textbox", { name: /^Comment/ });
    expect(box).toHaveValue("Filled and rolled. Thank you.");
    await user.type(box, " Again.");
    await user.click(screen.getByLabelText("Internal"));
    await user.click(screen.getByRole("button", { name: "Send comment" }));
    await screen.findByText("Saved");
    const post = requests.find((r) => r.method === "POST")!;
    expect(await post.json()).toEqual({ body: "Filled and rolled. Thank you. Again.", internal: true });
    expect(screen.getByText("Filled and rolled. Thank you. Again.")).toBeInTheDocument();
  });

  it("works without canned responses in the API", async () => {
    categories = { items: [{ code: "pothole", name: "Pothole", department: "roads", sla_hours: 48 }] };
    render();
    await screen.findByRole("heading", { level: 1, name: "Deep pothole" });
    await screen.findByText("Pothole");
    expect(screen.queryByLabelText("Fill the comment from a canned response")).toBeNull();
    expect(screen.getByRole("button", { name: "Send comment" })).toBeInTheDocument();
  });

  it("sets the priority through the assignment endpoint and shows it once applied", async () => {
    const user = userEvent.setup();
    render();
    await user.selectOptions(await screen.findByLabelText("Priority"), "urgent");
    await user.click(screen.getByRole("button", { name: "Save priority" }));
    await screen.findByText("Saved");
    const post = requests.find((r) => r.method === "POST")!;
    expect(new URL(post.url).pathname).toBe(`/v1/issues/${ID}/assignment`);
    expect(await post.json()).toEqual({ priority: "urgent" });
    expect(screen.getByText("Urgent", { selector: ".badge" })).toBeInTheDocument();
  });

  it("assigns to a colleague chosen by name from the department's staff and shows their name", async () => {
    const user = userEvent.setup();
    render();
    const colleague = await screen.findByLabelText("Colleague");
    await waitFor(() => expect(within(colleague).getByRole("option", { name: "Meera" })).toBeInTheDocument());
    const directoryCall = requests.find((r) => new URL(r.url).pathname === "/v1/staff/directory")!;
    expect(new URL(directoryCall.url).searchParams.get("department")).toBe("roads");
    // Oneself is not offered ("Assign to me" does that).
    expect(within(colleague).queryByRole("option", { name: "Test staff" })).toBeNull();
    expect(screen.getByRole("button", { name: "Assign to colleague" })).toBeDisabled();
    await user.selectOptions(colleague, "Ravi");
    await user.click(screen.getByRole("button", { name: "Assign to colleague" }));
    await screen.findByText("Saved");
    const post = requests.find((r) => r.method === "POST")!;
    expect(new URL(post.url).pathname).toBe(`/v1/issues/${ID}/assignment`);
    expect(post.headers.get("Idempotency-Key")).toBeTruthy();
    expect(await post.json()).toEqual({ assignee_id: RAVI });
    const facts = screen.getByText("Assignee").nextElementSibling!;
    expect(facts).toHaveTextContent("Ravi");
  });

  it("shows the assignee's id when the directory does not know them", async () => {
    current = detail({ assignee_id: "0190a2b4-1c3d-7e5f-8a9b-0000000000ff" });
    render();
    await screen.findByRole("heading", { level: 1, name: "Deep pothole" });
    expect(screen.getByText("Assignee").nextElementSibling).toHaveTextContent("0190a2b4-1c3d-7e5f-8a9b-0000000000ff");
  });

  it("names the assignee from the directory, and says You for oneself", async () => {
    current = detail({ assignee_id: MEERA });
    const first = render();
    await waitFor(() => expect(screen.getByText("Assignee").nextElementSibling).toHaveTextContent("Meera"));
    first.unmount();
    current = detail({ assignee_id: ME });
    render();
    await waitFor(() => expect(screen.getByText("Assignee").nextElementSibling).toHaveTextContent("You"));
  });
});

describe("StaffIssuePage across issues", () => {
  it("keeps the typed note and comment per issue; another issue starts empty, and the first one's text comes back", async () => {
    const user = userEvent.setup();
    const { router } = render();
    await user.type(await screen.findByLabelText("Note for the reporter"), "Crew booked for");
    await user.type(screen.getByRole("textbox", { name: /^Comment/ }), "Asked the contractor");
    expect(JSON.parse(sessionStorage.getItem(`snapfix.draft.staff.issue.${ID}.status`)!)).toMatchObject({ note: "Crew booked for" });
    expect(JSON.parse(sessionStorage.getItem(`snapfix.draft.staff.issue.${ID}.comment`)!)).toMatchObject({ body: "Asked the contractor" });

    await act(() => router.navigate(`/staff/issues/${ID_B}`));
    await screen.findByRole("heading", { level: 1, name: "Broken streetlight" });
    expect(screen.getByLabelText("Note for the reporter")).toHaveValue("");
    expect(screen.getByRole("textbox", { name: /^Comment/ })).toHaveValue("");

    await act(() => router.navigate(`/staff/issues/${ID}`));
    await screen.findByRole("heading", { level: 1, name: "Deep pothole" });
    expect(screen.getByLabelText("Note for the reporter")).toHaveValue("Crew booked for");
    expect(screen.getByRole("textbox", { name: /^Comment/ })).toHaveValue("Asked the contractor");
  });

  it("never shows a poll's answer about the previous issue: the next action goes to the issue in the address", async () => {
    const user = userEvent.setup();
    applyTransitions = false; // A's change shows late: its poll is still running when the page moves on
    const { router } = render();
    await user.click(await screen.findByRole("button", { name: "Start work (in progress)" }));
    await screen.findByText("Saving…");
    await act(() => router.navigate(`/staff/issues/${ID_B}`));
    await screen.findByRole("heading", { level: 1, name: "Broken streetlight" });
    current = { ...current, status: "in_progress" }; // the next read of A would settle A's poll
    await new Promise((r) => setTimeout(r, 900)); // more than two poll intervals
    expect(screen.getByRole("heading", { level: 1 })).toHaveTextContent("Broken streetlight");
    expect(screen.queryByText("Saved")).toBeNull();

    await user.type(screen.getByLabelText("Note for the reporter"), "On it");
    await user.click(screen.getByRole("button", { name: "Start work (in progress)" }));
    await waitFor(() => expect(requests.filter((r) => r.method === "POST")).toHaveLength(2));
    expect(new URL(requests.filter((r) => r.method === "POST")[1]!.url).pathname).toBe(`/v1/issues/${ID_B}/transitions`);
    const aReads = requests.filter((r) => r.method === "GET" && new URL(r.url).pathname === `/v1/issues/${ID}`).length;
    await new Promise((r) => setTimeout(r, 500));
    expect(requests.filter((r) => r.method === "GET" && new URL(r.url).pathname === `/v1/issues/${ID}`).length).toBe(aReads); // A's poll stopped
  });
});
