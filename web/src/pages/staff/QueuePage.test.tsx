import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { IssueSummary } from "../../api/types";
import { makeUser, renderPage } from "../../test/render";
import QueuePage from "./QueuePage";

const A = "0190a2b4-1c3d-7e5f-8a9b-00000000000a";
const B = "0190a2b4-1c3d-7e5f-8a9b-00000000000b";
const MEERA = "0190a2b4-1c3d-7e5f-8a9b-0000000000e1";
const PARKS_PAL = "0190a2b4-1c3d-7e5f-8a9b-0000000000e3";

function issue(id: string, title: string, extra: Partial<IssueSummary> = {}): IssueSummary {
  return {
    id,
    title,
    category: "pothole",
    status: "open",
    lat: 12.97,
    lon: 77.59,
    address: null,
    department: null,
    assignee_id: null,
    priority: "normal",
    votes: 0,
    created_at: "2026-01-01T00:00:00Z",
    due_at: "2026-01-03T00:00:00Z",
    overdue: false,
    ...extra,
  };
}

const json = (body: unknown, status = 200, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": type } });

let requests: Request[];

beforeEach(() => {
  requests = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      requests.push(request.clone());
      const url = new URL(request.url);
      if (url.pathname === "/v1/categories")
        return json({ items: [{ code: "pothole", name: "Pothole", department: "roads", sla_hours: 48 }] });
      if (url.pathname === "/v1/staff/directory")
        return json({
          items:
            url.searchParams.get("department") === "parks"
              ? [{ id: PARKS_PAL, display_name: "Pallavi", departments: ["parks"] }]
              : [
                  { id: MEERA, display_name: "Meera", departments: ["roads"] },
                  { id: "00000000-0000-4000-8000-000000000001", display_name: "Test staff", departments: ["roads"] },
                ],
        });
      if (url.pathname === `/v1/issues/${A}/assignment`) return json({ id: A, status: "accepted" }, 202);
      if (url.pathname === "/v1/staff/queue")
        return json({
          items: [issue(A, "Deep pothole", { overdue: true, priority: "urgent" }), issue(B, "Old pothole", { status: "closed" })],
          next_cursor: null,
        });
      if (url.pathname === `/v1/issues/${A}/transitions`) return json({ id: A, status: "accepted" }, 202);
      if (url.pathname === `/v1/issues/${B}/transitions`)
        return json(
          { type: "about:blank", title: "Conflict", status: 409, detail: "an issue that is closed cannot become acknowledged" },
          409,
          "application/problem+json",
        );
      return json({ type: "about:blank", title: "Not Found", status: 404 }, 404, "application/problem+json");
    }),
  );
});
afterEach(() => vi.unstubAllGlobals());

describe("QueuePage", () => {
  it("lists the queue overdue first, with an Overdue text marker", async () => {
    renderPage(<QueuePage />, { user: makeUser("staff"), path: "/staff" });
    const link = await screen.findByRole("link", { name: "Deep pothole" });
    expect(link).toHaveAttribute("href", `/staff/issues/${A}`);
    const queueCall = requests.find((r) => new URL(r.url).pathname === "/v1/staff/queue")!;
    expect(new URL(queueCall.url).searchParams.get("sort")).toBe("due");
    expect(new URL(queueCall.url).searchParams.has("department")).toBe(false);
    const row = link.closest("tr")!;
    expect(within(row).getByText("Overdue")).toBeInTheDocument();
    expect(within(row).getByText("Urgent")).toBeInTheDocument();
    expect(within(row).getByText("Pothole")).toBeInTheDocument();
    // One department: no department picker.
    expect(screen.queryByLabelText("Department")).toBeNull();
  });

  it("filters through the query and offers several departments", async () => {
    const user = userEvent.setup();
    renderPage(<QueuePage />, { user: makeUser("staff", { departments: ["roads", "parks"] }), path: "/staff" });
    await screen.findByRole("link", { name: "Deep pothole" });
    await user.selectOptions(screen.getByLabelText("Department"), "parks");
    await user.selectOptions(screen.getByLabelText("Sort by"), "priority");
    await user.click(screen.getByLabelText("Overdue only"));
    await waitFor(() => {
      const last = new URL(requests.filter((r) => new URL(r.url).pathname === "/v1/staff/queue").at(-1)!.url);
      expect(Object.fromEntries(last.searchParams)).toEqual({ department: "parks", sort: "priority", overdue: "true" });
    });
  });

  it("acknowledges the selected rows one request each and keeps the refused ones selected", async () => {
    const user = userEvent.setup();
    renderPage(<QueuePage />, { user: makeUser("staff"), path: "/staff" });
    await screen.findByRole("link", { name: "Deep pothole" });
    await user.click(screen.getByLabelText("Select all issues on this page"));
    expect(screen.getByText("2 issues selected")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Acknowledge" }));
    await screen.findByText("Finished: 1 done, 1 refused.");
    const results = screen.getByRole("list", { name: "Result per issue" });
    expect(within(results).getByText(/Done/)).toBeInTheDocument();
    expect(within(results).getByText(/Refused: an issue that is closed cannot become acknowledged/)).toBeInTheDocument();

    const posts = requests.filter((r) => r.method === "POST");
    expect(posts).toHaveLength(2);
    const keys = posts.map((r) => r.headers.get("Idempotency-Key"));
    expect(new Set(keys).size).toBe(2);
    expect(await posts[0]!.json()).toEqual({ to: "acknowledged", note: "" });
    await waitFor(() => expect(screen.getByLabelText("Select “Old pothole”")).toBeChecked());
    expect(screen.getByLabelText("Select “Deep pothole”")).not.toBeChecked();
  });

  it("assigns the selection to the signed-in user", async () => {
    const user = userEvent.setup();
    const me = makeUser("staff");
    renderPage(<QueuePage />, { user: me, path: "/staff" });
    await screen.findByRole("link", { name: "Deep pothole" });
    await user.click(screen.getByLabelText("Select “Deep pothole”"));
    await user.click(screen.getByRole("button", { name: "Assign to me" }));
    await screen.findByText(/Finished:/);
    const post = requests.find((r) => r.method === "POST")!;
    expect(new URL(post.url).pathname).toBe(`/v1/issues/${A}/assignment`);
    expect(await post.json()).toEqual({ assignee_id: me.id });
  });

  it("assigns the selection to a colleague chosen by name from the department's staff", async () => {
    const user = userEvent.setup();
    renderPage(<QueuePage />, { user: makeUser("staff"), path: "/staff" });
    await screen.findByRole("link", { name: "Deep pothole" });
    const colleague = screen.getByLabelText("Colleague");
    await waitFor(() => expect(within(colleague).getByRole("option", { name: "Meera" })).toBeInTheDocument());
    expect(within(colleague).queryByRole("option", { name: "Test staff" })).toBeNull(); // "Assign to me" does that
    const call = requests.find((r) => new URL(r.url).pathname === "/v1/staff/directory")!;
    expect(new URL(call.url).searchParams.get("department")).toBe("roads");
    // One department: no department to choose for assigning.
    expect(screen.queryByLabelText("Department to assign within")).toBeNull();
    await user.click(screen.getByLabelText("Select “Deep pothole”"));
    expect(screen.getByRole("button", { name: "Assign to colleague" })).toBeDisabled();
    await user.selectOptions(colleague, "Meera");
    await user.click(screen.getByRole("button", { name: "Assign to colleague" }));
    await screen.findByText("Finished: 1 done, 0 refused.");
    const post = requests.find((r) => r.method === "POST")!;
    expect(new URL(post.url).pathname).toBe(`/v1/issues/${A}/assignment`);
    expect(await post.json()).toEqual({ assignee_id: MEERA });
  });

  it("lists another department's staff once it is chosen for assigning", async () => {
    const user = userEvent.setup();
    renderPage(<QueuePage />, { user: makeUser("staff", { departments: ["roads", "parks"] }), path: "/staff" });
    await screen.findByRole("link", { name: "Deep pothole" });
    expect(screen.getByLabelText("Colleague")).toBeDisabled();
    expect(requests.some((r) => new URL(r.url).pathname === "/v1/staff/directory")).toBe(false);
    await user.selectOptions(screen.getByLabelText("Department to assign within"), "parks");
    const colleague = screen.getByLabelText("Colleague");
    await waitFor(() => expect(within(colleague).getByRole("option", { name: "Pallavi" })).toBeInTheDocument());
    expect(within(colleague).queryByRole("option", { name: "Meera" })).toBeNull();
  });
});
