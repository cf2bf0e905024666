import { fireEvent, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { gatewayStub } from "../../api/submitKey.stub";
import { getAccessToken, setTokens } from "../../api/tokens";
import { makeUser, renderPage } from "../../test/render";
import { PrivacySection } from "./PrivacySection";

let calls: Request[] = [];
let bodies: string[] = [];
function serve(handler: (request: Request) => Response) {
  const gateway = gatewayStub(handler);
  calls = gateway.calls;
  bodies = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      bodies.push(request.method === "DELETE" ? await request.clone().text() : "");
      return gateway.fetch(request);
    }),
  );
}
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const problem = (status: number, detail: string) =>
  new Response(JSON.stringify({ type: "about:blank", title: "Forbidden", status, detail }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
const path = (r: Request) => `${r.method} ${new URL(r.url).pathname}`;

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  sessionStorage.clear();
});

describe("your data", () => {
  it("downloads the export as a JSON file", async () => {
    serve(() => json({ format: 1, account: { email: "ada@example.org" } }));
    const created = vi.fn((_: Blob) => "blob:export");
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: created, revokeObjectURL: vi.fn() }));
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    renderPage(<PrivacySection />, { user: makeUser(), path: "/me/settings" });
    fireEvent.click(screen.getByRole("button", { name: "Download my data" }));
    await screen.findByText("Your data was downloaded as a JSON file.");
    expect(calls.map(path)).toEqual(["GET /v1/me/export"]);
    expect(click).toHaveBeenCalledOnce();
    const blob = created.mock.calls[0]![0];
    expect(JSON.parse(await blob.text())).toEqual({ format: 1, account: { email: "ada@example.org" } });
  });

  it("deletes the account only with the password and the confirmation, then forgets the tokens", async () => {
    setTokens("access", "refresh", 900);
    serve(() => new Response(null, { status: 204 }));
    renderPage(<PrivacySection />, {
      user: makeUser(),
      path: "/me/settings",
      extraRoutes: [{ path: "/", element: <p>home page</p> }],
    });
    const submit = screen.getByRole("button", { name: "Delete my account" });
    fireEvent.change(screen.getByLabelText(/Your current password/), { target: { value: "violet-harbour-71" } });
    expect((submit as HTMLButtonElement).disabled).toBe(true); // not confirmed yet
    fireEvent.click(screen.getByRole("checkbox", { name: "I understand that my account is deleted for good" }));
    fireEvent.click(submit);
    await screen.findByText("home page");
    expect(getAccessToken()).toBeNull();
    expect(calls.map(path)).toEqual(["DELETE /v1/me"]);
    expect(JSON.parse(bodies[0]!)).toEqual({ password: "violet-harbour-71" });
  });

  it("shows why a deletion was refused and keeps the session", async () => {
    setTokens("access", "refresh", 900);
    serve(() => problem(403, "The password is wrong."));
    renderPage(<PrivacySection />, { user: makeUser(), path: "/me/settings" });
    fireEvent.change(screen.getByLabelText(/Your current password/), { target: { value: "not-it" } });
    fireEvent.click(screen.getByRole("checkbox", { name: "I understand that my account is deleted for good" }));
    fireEvent.click(screen.getByRole("button", { name: "Delete my account" }));
    await screen.findByText(/The password is wrong\./);
    expect(getAccessToken()).toBe("access");
  });
});
