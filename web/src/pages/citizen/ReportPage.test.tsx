import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { gatewayStub } from "../../api/submitKey.stub";
import { clearTokens } from "../../api/tokens";
import { resetConfigCache } from "../../lib/config";
import { makeUser, renderPage } from "../../test/render";
import ReportPage from "./ReportPage";
import MyReportsPage from "./MyReportsPage";
import { POTHOLE } from "./report/fixtures";

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": status >= 400 ? "application/problem+json" : "application/json" } });

let posts: { key: string | null; body: Record<string, unknown> }[] = [];
let answers: (() => Response)[] = [];

beforeEach(() => {
  clearTokens();
  resetConfigCache();
  posts = [];
  answers = [];
  // Answers kept per Idempotency-Key as the gateway does: a key kept after a refusal fails the test.
  const gateway = gatewayStub(async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/config.json") return new Response("", { status: 404 });
    if (url.pathname === "/v1/categories") return json({ items: [POTHOLE], next_cursor: null });
    if (url.pathname === "/v1/issues/suggestions") return json({ items: [] });
    if (url.pathname === "/v1/issues" && request.method === "POST") {
      posts.push({ key: request.headers.get("idempotency-key"), body: (await request.json()) as Record<string, unknown> });
      return answers.shift()!();
    }
    if (url.pathname.startsWith("/v1/issues/")) return json({ id: "i1" });
    if (url.pathname === "/v1/me/issues") return json({ items: [], next_cursor: null });
    return json({ status: 404, title: "Not Found" }, 404);
  });
  vi.stubGlobal("fetch", vi.fn(gateway.fetch));
});
afterEach(() => vi.unstubAllGlobals());

async function fillForm() {
  renderPage(<ReportPage />, { user: makeUser("citizen"), path: "/report" });
  fireEvent.change(screen.getByLabelText("Latitude"), { target: { value: "12.97" } });
  fireEvent.change(screen.getByLabelText("Longitude"), { target: { value: "77.59" } });
  const category = await screen.findByLabelText(/What kind of problem/);
  fireEvent.change(category, { target: { value: "pothole" } });
  fireEvent.change(screen.getByLabelText(/^Title/), { target: { value: "Deep pothole" } });
}

describe("ReportPage", () => {
  it("renders the category's attributes by datatype, with required marks", async () => {
    await fillForm();
    const details = screen.getByRole("group", { name: "Details for Pothole" });
    const lane = within(details).getByLabelText(/Where on the road/);
    expect(lane.tagName).toBe("SELECT");
    expect(lane).toBeRequired();
    expect(within(lane).getAllByRole("option").map((o) => o.textContent)).toEqual(["Choose…", "Driving lane", "Bike lane"]);
    expect(within(details).getByText(/Where on the road/).textContent).toContain("Required");
    const depth = within(details).getByLabelText(/Approximate depth/);
    expect(depth).toHaveAttribute("inputmode", "decimal");
    expect(depth).not.toBeRequired();
    expect(within(within(details).getByLabelText("Flickering")).getAllByRole("option").map((o) => o.getAttribute("value"))).toEqual(["", "true", "false"]);
    expect(within(details).getByLabelText("Pole number").tagName).toBe("INPUT");
  });

  it("shows the form's own errors next to the fields and sends nothing", async () => {
    await fillForm();
    fireEvent.change(screen.getByLabelText(/Approximate depth/), { target: { value: "deep" } });
    fireEvent.click(screen.getByRole("button", { name: "Send the report" }));
    expect(await screen.findByText("Enter a number.")).toBeInTheDocument();
    expect(screen.getByLabelText(/Approximate depth/)).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText(/Where on the road/)).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText(/Approximate depth/)).toHaveFocus(); // the first invalid field, in the form's order
    expect(posts).toHaveLength(0);
  });

  it("keeps one Idempotency-Key per logical submit, keeps the draft on failure and clears it on 202", async () => {
    answers = [
      () => json({ type: "about:blank", status: 409, title: "Conflict", detail: "A request with this Idempotency-Key is still being processed." }, 409),
      () => json({ status: 422, title: "Unprocessable", detail: "Invalid report.", errors: [{ field: "title", message: "title is not allowed (server)" }] }, 422),
      () => json({ id: "11111111-2222-4333-8444-555555555555", status: "accepted" }, 202),
    ];
    await fillForm();
    fireEvent.change(screen.getByLabelText(/Where on the road/), { target: { value: "bike_lane" } });
    const send = screen.getByRole("button", { name: "Send the report" });

    fireEvent.click(send);
    expect(await screen.findByText("A request with this Idempotency-Key is still being processed.")).toBeInTheDocument();
    expect(JSON.parse(sessionStorage.getItem("snapfix.draft.report")!).title).toBe("Deep pothole");

    fireEvent.click(send); // a retry of the same submit whose outcome is unknown: the same key
    expect(await screen.findByText("title is not allowed (server)", { selector: ".field-error *, .field-error" })).toBeInTheDocument();
    expect(posts).toHaveLength(2);
    expect(posts[1]!.key).toBe(posts[0]!.key);
    expect(posts[0]!.body).toEqual({
      title: "Deep pothole",
      description: "",
      category: "pothole",
      lat: 12.97,
      lon: 77.59,
      attributes: { lane: "bike_lane" },
      media_ids: [],
      anonymous: false,
    });

    fireEvent.change(screen.getByLabelText(/^Title/), { target: { value: "Deep pothole on 5th Cross" } });
    fireEvent.click(send); // refused before: a corrected form is a new request, with a new key
    expect(await screen.findByRole("heading", { name: /Received/ })).toBeInTheDocument();
    expect(posts).toHaveLength(3);
    expect(posts[2]!.key).not.toBe(posts[1]!.key);
    expect(screen.getByText("11111111-2222-4333-8444-555555555555")).toBeInTheDocument();
    expect(await screen.findByRole("link", { name: "Open your report" })).toHaveAttribute("href", "/issues/11111111-2222-4333-8444-555555555555");
    expect(sessionStorage.getItem("snapfix.draft.report")).toBeNull();
  });
});

describe("Use my location", () => {
  it("puts the device's position in the coordinates, and says clearly when it is refused", async () => {
    const getCurrentPosition = vi
      .fn()
      .mockImplementationOnce((_ok: PositionCallback, fail: PositionErrorCallback, options: PositionOptions) => {
        expect(options.timeout).toBeGreaterThan(0); // never waits forever
        fail({ code: 1, message: "denied" } as GeolocationPositionError);
      })
      .mockImplementationOnce((ok: PositionCallback) => ok({ coords: { latitude: 12.5, longitude: 77.25 } } as GeolocationPosition));
    vi.stubGlobal("navigator", { ...navigator, geolocation: { getCurrentPosition } });
    renderPage(<ReportPage />, { user: makeUser("citizen"), path: "/report" });
    const button = await screen.findByRole("button", { name: "Use my location" });
    fireEvent.click(button);
    expect(await screen.findByRole("alert")).toHaveTextContent("Permission to use your location was refused.");
    fireEvent.click(button);
    await waitFor(() => expect(screen.getByLabelText("Latitude")).toHaveValue("12.500000"));
    expect(screen.getByLabelText("Longitude")).toHaveValue("77.250000");
    expect(screen.getByText("Pin at 12.50000, 77.25000")).toBeInTheDocument();
    expect(screen.queryByRole("alert")).toBeNull();
  });
});

describe("MyReportsPage", () => {
  it("shows an empty state with a way to report", async () => {
    renderPage(<MyReportsPage />, { user: makeUser("citizen"), path: "/me/reports" });
    expect(await screen.findByText("You have not reported anything yet.")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Report an issue" })).toHaveAttribute("href", "/report");
  });
});

describe("MyReportsPage list", () => {
  it("lists each report with its status, category name, date and link", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        if (url.pathname === "/v1/categories") return json({ items: [POTHOLE] });
        return json({
          items: [{ id: "i9", title: "Pothole at gate", category: "pothole", status: "in_progress", lat: 1, lon: 2, priority: "normal", votes: 0, created_at: "2026-03-05T10:00:00Z", overdue: false }],
          next_cursor: "c2",
        });
      }),
    );
    renderPage(<MyReportsPage />, { user: makeUser("citizen"), path: "/me/reports" });
    expect(await screen.findByRole("link", { name: "Pothole at gate" })).toHaveAttribute("href", "/issues/i9");
    expect(screen.getByText("In progress")).toBeInTheDocument();
    await waitFor(() => expect(screen.getByText(/Category: Pothole$/)).toBeInTheDocument());
    expect(screen.getByRole("button", { name: /Next/ })).toBeEnabled();
  });
});
