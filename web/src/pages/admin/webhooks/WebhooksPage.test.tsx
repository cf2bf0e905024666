import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeUser, renderPage } from "../../../test/render";
import WebhooksPage from "../WebhooksPage";

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const ID = "0190a2b4-1c3d-7e5f-8a9b-0000000000e1";
const endpoint = {
  id: ID,
  url: "https://crm.example/hook",
  event_types: ["IssueReported"],
  description: "CRM",
  enabled: false,
  created_at: "2026-01-01T00:00:00Z",
  disabled_at: "2026-01-02T00:00:00Z",
  disabled_reason: "410 Gone",
  consecutive_failures: 3,
  last_success_at: null,
};
const delivery = {
  id: "msg_1",
  event_id: "0190a2b4-1c3d-7e5f-8a9b-0000000000f1",
  event_type: "IssueReported",
  status: "failed",
  created_at: "2026-01-01T00:00:00Z",
  attempt_count: 2,
  attempts: [
    { at: "2026-01-01T00:00:01Z", status_code: 503, error: null, duration_ms: 120.4, retry_in_s: 5 },
    { at: "2026-01-01T00:00:07Z", status_code: null, error: "timeout", duration_ms: 5000, retry_in_s: null },
  ],
  next_attempt_at: null,
  delivered_at: null,
  reason: "gave up",
};

let calls: { method: string; url: URL; key: string | null; body: string }[];

beforeEach(() => {
  calls = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      const url = new URL(request.url);
      calls.push({ method: request.method, url, key: request.headers.get("Idempotency-Key"), body: await request.clone().text() });
      if (url.pathname === "/v1/admin/webhooks" && request.method === "GET") return json([endpoint]);
      if (url.pathname === "/v1/admin/webhooks" && request.method === "POST")
        return json({ ...endpoint, enabled: true, secret: "whsec_abc" }, 201);
      if (url.pathname === `/v1/admin/webhooks/${ID}/enable`) return json({ ...endpoint, enabled: true });
      if (url.pathname === `/v1/admin/webhooks/${ID}/deliveries`)
        return json({ items: [delivery], next_cursor: url.searchParams.get("cursor") ? null : "c2" });
      if (url.pathname === `/v1/admin/webhooks/${ID}` && request.method === "DELETE") return new Response(null, { status: 204 });
      return json({ status: 404, title: "Not Found" }, 404);
    }),
  );
});
afterEach(() => vi.unstubAllGlobals());

describe("WebhooksPage", () => {
  it("creates an endpoint for chosen events and shows its secret once", async () => {
    const user = userEvent.setup();
    renderPage(<WebhooksPage />, { user: makeUser("admin"), path: "/admin/webhooks" });
    await user.type(screen.getByLabelText(/^URL/), "https://crm.example/hook");
    await user.click(screen.getByRole("checkbox", { name: "All events" }));
    await user.click(screen.getByRole("checkbox", { name: "IssueStatusChanged" }));
    await user.click(screen.getByRole("button", { name: "Add endpoint" }));
    const region = await screen.findByRole("region", { name: "Signing secret for https://crm.example/hook" });
    expect(within(region).getByRole("textbox")).toHaveValue("whsec_abc");
    const post = calls.find((c) => c.method === "POST")!;
    expect(JSON.parse(post.body)).toEqual({ url: "https://crm.example/hook", event_types: ["IssueStatusChanged"], description: "" });
    expect(post.key).toBeTruthy();
  });

  it("marks a disabled endpoint in words, re-enables it, pages its deliveries and deletes after confirming", async () => {
    const user = userEvent.setup();
    renderPage(<WebhooksPage />, { user: makeUser("admin"), path: "/admin/webhooks" });
    const row = (await screen.findByText("https://crm.example/hook")).closest("tr")!;
    expect(within(row).getByText("Disabled")).toBeInTheDocument();
    expect(within(row).getByText("410 Gone")).toBeInTheDocument();

    // Every row button's accessible name contains its visible text (axe label-content-name-mismatch).
    for (const button of within(row).getAllByRole("button")) {
      expect(button.getAttribute("aria-label") ?? "").toContain(button.textContent ?? "");
    }
    await user.click(within(row).getByRole("button", { name: "Enable again: https://crm.example/hook" }));
    expect(await screen.findByText("https://crm.example/hook is enabled again.")).toBeInTheDocument();
    expect(calls.some((c) => c.method === "POST" && c.url.pathname.endsWith("/enable") && c.key)).toBe(true);

    await user.click(within(row).getByRole("button", { name: "Deliveries to https://crm.example/hook" }));
    const log = await screen.findByRole("table", { name: "Deliveries to https://crm.example/hook" });
    expect(within(log).getByText("Failed")).toBeInTheDocument();
    expect(within(log).getByText(/503/)).toBeInTheDocument();
    expect(within(log).getByText(/timeout/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Next" }));
    await screen.findByRole("button", { name: "Previous" });
    expect(calls.filter((c) => c.url.pathname.endsWith("/deliveries")).at(-1)!.url.searchParams.get("cursor")).toBe("c2");

    await user.click(within(row).getByRole("button", { name: "Delete https://crm.example/hook" }));
    const dialog = screen.getByRole("dialog", { name: "Delete the endpoint https://crm.example/hook?" });
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    await user.click(within(dialog).getByRole("button", { name: "Delete" }));
    expect(await screen.findByText("Deleted https://crm.example/hook.")).toBeInTheDocument();
    expect(calls.find((c) => c.method === "DELETE")!.key).toBeTruthy();
  });
});
