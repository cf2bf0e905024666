import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { gatewayStub } from "../../api/submitKey.stub";
import { makeUser, renderPage } from "../../test/render";
import ApiKeysPage from "./ApiKeysPage";
import CategoriesPage from "./CategoriesPage";
import UsersPage from "./UsersPage";

const json = (body: unknown, status = 200, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": type } });
const problem = (status: number, body: Record<string, unknown>) =>
  json({ type: "about:blank", title: "Problem", status, ...body }, status, "application/problem+json");

const CATEGORY = {
  code: "pothole",
  name: "Pothole",
  group: "",
  description: "",
  keywords: [],
  department: "roads",
  sla_hours: 48,
  attributes: [],
  canned_responses: [],
};
const ADMIN_ID = "00000000-0000-4000-8000-000000000001";
const CREW = {
  id: "00000000-0000-4000-8000-000000000002",
  email: "crew@city.example",
  display_name: "Crew",
  role: "staff",
  departments: ["roads"],
  email_verified: true,
  created_at: "2026-01-01T00:00:00Z",
  disabled: false,
};
const ME = { ...CREW, id: ADMIN_ID, email: "admin@city.example", role: "admin", departments: [] };

let requests: { method: string; path: string; key: string | null; body: unknown; cache: RequestCache }[];
let handler: (method: string, path: string, body: unknown) => Response | undefined;

beforeEach(() => {
  requests = [];
  handler = () => undefined;
  // POST answers kept per Idempotency-Key and replayed, as the gateway does.
  const gateway = gatewayStub(async (request) => {
    const path = new URL(request.url).pathname;
    const text = await request.clone().text();
    const body = text ? (JSON.parse(text) as unknown) : undefined;
    requests.push({ method: request.method, path, key: request.headers.get("Idempotency-Key"), body, cache: request.cache });
    const answer = handler(request.method, path, body);
    if (answer) return answer;
    if (path === "/v1/categories") return json({ items: [CATEGORY], next_cursor: null });
    if (path === "/v1/admin/users") return json({ items: [ME, CREW], next_cursor: null });
    if (path === "/v1/admin/api-keys") return json([]);
    return problem(404, {});
  });
  vi.stubGlobal("fetch", vi.fn(gateway.fetch));
});
afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe("CategoriesPage", () => {
  it("revalidates the catalogue instead of reading the browser cache (its own edits show after a reload)", async () => {
    renderPage(<CategoriesPage />, { user: makeUser("admin"), path: "/admin/categories" });
    expect(await screen.findByRole("button", { name: "Edit Pothole" })).toBeInTheDocument();
    const reads = requests.filter((r) => r.method === "GET" && r.path === "/v1/categories");
    expect(reads).toHaveLength(1);
    expect(reads[0]!.cache).toBe("no-cache");
  });

  it("adds a canned response, shows the API's field error next to it; a new key after that answer, the same after a 500", async () => {
    const user = userEvent.setup();
    let calls = 0;
    handler = (method, path, body) => {
      if (method !== "PUT" || path !== "/v1/categories/pothole") return undefined;
      calls += 1;
      if (calls === 1) return problem(422, { errors: [{ field: "canned_responses.0.body", message: "too rude" }] });
      if (calls === 2) return problem(500, { detail: "Something failed on our side." });
      return json({ code: "pothole", ...(body as object) });
    };
    renderPage(<CategoriesPage />, { user: makeUser("admin"), path: "/admin/categories" });
    await user.click(await screen.findByRole("button", { name: "Edit Pothole" }));
    await user.click(screen.getByRole("button", { name: "Add canned response" }));
    const group = screen.getByRole("group", { name: "Canned response 1" });
    // Client checks first: nothing is sent while fields are empty.
    await user.click(screen.getByRole("button", { name: "Save category" }));
    expect(within(group).getByLabelText(/^Identifier/)).toHaveAccessibleDescription(/Required\./);
    expect(requests.filter((r) => r.method === "PUT")).toHaveLength(0);

    await user.type(within(group).getByLabelText(/^Identifier/), "fixed");
    await user.type(within(group).getByLabelText(/^Title/), "Fixed");
    await user.type(within(group).getByLabelText(/^Text/), "We fixed it.");
    await user.click(screen.getByRole("button", { name: "Save category" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("too rude");
    expect(within(group).getByLabelText(/^Text/)).toHaveAccessibleDescription("too rude");
    await user.click(screen.getByRole("button", { name: "Save category" })); // a definite answer before: a fresh key
    expect(await screen.findByText("Something failed on our side.")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Save category" })); // the outcome unknown: the same key
    expect(await screen.findByText("Saved Pothole.")).toBeInTheDocument();

    const puts = requests.filter((r) => r.method === "PUT");
    expect(puts).toHaveLength(3);
    expect(puts[0]!.key).toBeTruthy();
    expect(puts[1]!.key).not.toBe(puts[0]!.key);
    expect(puts[2]!.key).toBe(puts[1]!.key);
    expect(puts[1]!.body).toMatchObject({
      name: "Pothole",
      department: "roads",
      sla_hours: 48,
      canned_responses: [{ id: "fixed", title: "Fixed", body: "We fixed it." }],
    });
    expect(puts[1]!.body).not.toHaveProperty("code");
    const row = screen.getByRole("row", { name: /Pothole/ });
    expect(within(row).getAllByRole("cell")[4]).toHaveTextContent("1");
  });
});

describe("UsersPage", () => {
  it("keeps what was typed in the new-account form across a new visit, never the password", async () => {
    const user = userEvent.setup();
    const first = renderPage(<UsersPage />, { user: makeUser("admin"), path: "/admin/users" });
    await user.click(await screen.findByRole("button", { name: "New staff account" }));
    const form = screen.getByRole("form", { name: "New staff or admin account" });
    await user.type(within(form).getByLabelText(/^E-mail/), "crew@city.example");
    await user.type(within(form).getByLabelText(/^Password/), "granite-otter-52-compass");
    expect(JSON.stringify(Object.values(sessionStorage))).toContain("crew@city.example");
    expect(JSON.stringify(Object.values(sessionStorage))).not.toContain("granite-otter");
    first.unmount(); // the session ended mid-form; the admin signs in again

    renderPage(<UsersPage />, { user: makeUser("admin"), path: "/admin/users" });
    await user.click(await screen.findByRole("button", { name: "New staff account" }));
    const again = screen.getByRole("form", { name: "New staff or admin account" });
    expect(within(again).getByLabelText(/^E-mail/)).toHaveValue("crew@city.example");
    expect(within(again).getByLabelText(/^Password/)).toHaveValue("");
  });

  it("asks before disabling and shows the API's 409 detail in the dialog", async () => {
    const user = userEvent.setup();
    handler = (method, path) =>
      method === "PATCH" && path === `/v1/admin/users/${ADMIN_ID}`
        ? problem(409, { detail: "You cannot disable your own account." })
        : undefined;
    renderPage(<UsersPage />, { user: makeUser("admin", { id: ADMIN_ID }), path: "/admin/users" });
    const row = (await screen.findByText(/admin@city\.example/)).closest("tr")!;
    expect(within(row).getByText("(you)", { exact: false })).toBeInTheDocument();
    await user.click(within(row).getByRole("button", { name: "Manage admin@city.example" }));
    await user.click(screen.getByRole("button", { name: "Disable account" }));
    const dialog = screen.getByRole("dialog", { name: "Disable admin@city.example?" });
    expect(requests.filter((r) => r.method === "PATCH")).toHaveLength(0);
    await user.click(within(dialog).getByRole("button", { name: "Disable account" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent("You cannot disable your own account.");
    const patch = requests.find((r) => r.method === "PATCH")!;
    expect(patch.body).toEqual({ disabled: true });
    expect(patch.key).toBeTruthy();
  });

  it("lists role and departments and filters by role and e-mail prefix", async () => {
    const user = userEvent.setup();
    renderPage(<UsersPage />, { user: makeUser("admin", { id: ADMIN_ID }), path: "/admin/users" });
    const row = (await screen.findByText("crew@city.example")).closest("tr")!;
    expect(within(row).getByText("Staff")).toBeInTheDocument();
    expect(within(row).getByText("roads")).toBeInTheDocument();
    expect(within(row).getByText("Active")).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText("Role"), "staff");
    await user.type(screen.getByLabelText("E-mail starts with"), "cr");
    await user.click(screen.getByRole("button", { name: "Search" }));
    await waitFor(() => {
      const last = requests.filter((r) => r.path === "/v1/admin/users").at(-1)!;
      expect(last).toBeDefined();
    });
    const calls = (vi.mocked(fetch).mock.calls as [Request][]).map(([r]) => new URL(r.url));
    const listed = calls.filter((u) => u.pathname === "/v1/admin/users").at(-1)!;
    expect(listed.searchParams.get("role")).toBe("staff");
    expect(listed.searchParams.get("q")).toBe("cr");
  });
});

describe("ApiKeysPage", () => {
  it("shows a new key's secret once, with a warning", async () => {
    const user = userEvent.setup();
    handler = (method, path) =>
      method === "POST" && path === "/v1/admin/api-keys"
        ? json({ id: "k1", name: "CRM", created_at: "2026-01-01T00:00:00Z", revoked_at: null, api_key: "sfk_secret_value" }, 201)
        : undefined;
    renderPage(<ApiKeysPage />, { user: makeUser("admin"), path: "/admin/api-keys" });
    await user.type(await screen.findByLabelText(/^Name/), "CRM");
    await user.click(screen.getByRole("button", { name: "Create key" }));
    const region = await screen.findByRole("region", { name: "API key for CRM" });
    expect(within(region).getByRole("textbox")).toHaveValue("sfk_secret_value");
    expect(within(region).getByText(/shown only this once/)).toBeInTheDocument();
    expect(requests.find((r) => r.method === "POST")!.body).toEqual({ name: "CRM" });
    await user.click(within(region).getByRole("button", { name: "I have copied it" }));
    expect(screen.queryByDisplayValue("sfk_secret_value")).toBeNull();
  });

  it("sends a corrected form under a new Idempotency-Key (the refused one keeps its answer)", async () => {
    const user = userEvent.setup();
    handler = (method, path, body) => {
      if (method !== "POST" || path !== "/v1/admin/api-keys") return undefined;
      if ((body as { name: string }).name === "x") return problem(409, { detail: "A key with this name exists." });
      return json({ id: "k2", name: "CRM 2", created_at: "2026-01-01T00:00:00Z", revoked_at: null, api_key: "sfk_2" }, 201);
    };
    renderPage(<ApiKeysPage />, { user: makeUser("admin"), path: "/admin/api-keys" });
    const name = await screen.findByLabelText(/^Name/);
    await user.type(name, "x");
    await user.click(screen.getByRole("button", { name: "Create key" }));
    expect(await screen.findByText("A key with this name exists.")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Create key" })); // the same request again: processed again
    expect(await screen.findByText("A key with this name exists.")).toBeInTheDocument();
    await user.clear(name);
    await user.type(name, "CRM 2");
    await user.click(screen.getByRole("button", { name: "Create key" }));
    await screen.findByRole("region", { name: "API key for CRM 2" });
    const posts = requests.filter((r) => r.method === "POST");
    expect(posts).toHaveLength(3);
    expect(new Set(posts.map((p) => p.key)).size).toBe(3); // a 409 about the name is a definite answer
  });
});
