import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { gatewayStub } from "../../api/submitKey.stub";
import { renderPage } from "../../test/render";
import PasswordResetPage from "./PasswordResetPage";
import SignUpPage from "./SignUpPage";
import VerifyEmailPage from "./VerifyEmailPage";

let calls: Request[] = [];
/** Answers through a gateway-like stub: the same Idempotency-Key with another body is 422, a kept answer is replayed. */
function serve(handler: (request: Request) => Response) {
  const gateway = gatewayStub(handler);
  calls = gateway.calls;
  vi.stubGlobal("fetch", vi.fn(gateway.fetch));
}
const problem = (status: number, detail: string, errors?: unknown) =>
  new Response(JSON.stringify({ type: "about:blank", title: "T", status, detail, errors }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe("password reset with the e-mailed token", () => {
  it("takes the token out of the address, then sends it with the new password", async () => {
    serve(() => new Response(null, { status: 204 }));
    const { router } = renderPage(<PasswordResetPage />, { path: "/password-reset", route: "/password-reset?token=tok-1234567890&x=1" });
    await waitFor(() => expect(router.state.location.search).toBe("?x=1"));
    expect(router.state.historyAction).toBe("REPLACE");

    fireEvent.change(screen.getByLabelText(/^New password \(/), { target: { value: "copper-heron-71-lantern" } });
    fireEvent.change(screen.getByLabelText(/^New password again/), { target: { value: "copper-heron-71-lantern" } });
    fireEvent.click(screen.getByRole("button", { name: "Set the new password" }));
    await screen.findByRole("heading", { name: "Your password is changed" });
    expect(calls).toHaveLength(1);
    expect(new URL(calls[0]!.url).pathname).toBe("/v1/auth/password-reset/confirm");
    expect(await calls[0]!.json()).toEqual({ token: "tok-1234567890", new_password: "copper-heron-71-lantern" });
    expect(calls[0]!.headers.get("idempotency-key")).toBeTruthy();
  });

  it("refuses two different passwords without calling the API, and shows an expired link's detail", async () => {
    serve(() => problem(400, "This password-reset link is not valid: it expired or was used already."));
    renderPage(<PasswordResetPage />, { path: "/password-reset", route: "/password-reset?token=tok-1234567890" });
    fireEvent.change(screen.getByLabelText(/^New password \(/), { target: { value: "copper-heron-71-lantern" } });
    fireEvent.change(screen.getByLabelText(/^New password again/), { target: { value: "copper-heron-71-lanterm" } });
    fireEvent.click(screen.getByRole("button", { name: "Set the new password" }));
    expect(await screen.findByText("The two passwords are not the same.")).toBeTruthy();
    expect(calls).toHaveLength(0);

    fireEvent.change(screen.getByLabelText(/^New password again/), { target: { value: "copper-heron-71-lantern" } });
    fireEvent.click(screen.getByRole("button", { name: "Set the new password" }));
    expect((await screen.findByRole("alert")).textContent).toContain("expired or was used already");
    expect(screen.getByRole("link", { name: "Ask for a new link" }).getAttribute("href")).toBe("/password-reset");
  });

  it("without a token asks for the address and never says whether it exists", async () => {
    serve(() => new Response(JSON.stringify({ status: "accepted" }), { status: 202, headers: { "content-type": "application/json" } }));
    renderPage(<PasswordResetPage />, { path: "/password-reset" });
    fireEvent.change(screen.getByLabelText(/^E-mail address/), { target: { value: "nobody@example.org" } });
    fireEvent.click(screen.getByRole("button", { name: "Send the link" }));
    expect((await screen.findByRole("status")).textContent).toContain("If an account uses nobody@example.org");
    expect(await calls[0]!.json()).toEqual({ email: "nobody@example.org" });
  });
});

describe("sign-up", () => {
  it("shows the server's reason for a weak password next to the field; the corrected form goes with a fresh key", async () => {
    let n = 0;
    serve(() =>
      n++ === 0
        ? problem(422, "The password is too weak: This is a top-10 common password.", [
            { field: "password", message: "This is a top-10 common password." },
          ])
        : new Response(JSON.stringify({ status: "accepted" }), { status: 202, headers: { "content-type": "application/json" } }),
    );
    renderPage(<SignUpPage />, { path: "/signup" });
    fireEvent.change(screen.getByLabelText(/^Your name/), { target: { value: "Asha" } });
    fireEvent.change(screen.getByLabelText(/^E-mail address/), { target: { value: "asha@example.org" } });
    fireEvent.change(screen.getByLabelText(/^Password/), { target: { value: "short" } });
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByText("Use at least 10 characters.")).toBeTruthy();
    expect(calls).toHaveLength(0);

    fireEvent.change(screen.getByLabelText(/^Password/), { target: { value: "password1234" } });
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findAllByText(/top-10 common password/)).toHaveLength(2); // alert and field
    // The 422 is kept under the first key: the same key with the corrected body would be refused.
    fireEvent.change(screen.getByLabelText(/^Password/), { target: { value: "copper-heron-71-lantern" } });
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    await screen.findByRole("heading", { name: "Check your inbox" });
    expect(calls).toHaveLength(2);
    expect(calls[0]!.headers.get("idempotency-key")).not.toBe(calls[1]!.headers.get("idempotency-key"));
    expect(await calls[1]!.json()).toMatchObject({ password: "copper-heron-71-lantern" });
    // The password is never kept in the draft.
    expect(JSON.stringify(Object.values(sessionStorage))).not.toContain("password1234");
    expect(JSON.stringify(Object.values(sessionStorage))).not.toContain("copper-heron");
  });
});

describe("verify e-mail", () => {
  it("confirms the token once, asking for JSON", async () => {
    serve(() => new Response(JSON.stringify({ status: "verified" }), { status: 200, headers: { "content-type": "application/json" } }));
    const { router } = renderPage(<VerifyEmailPage />, { path: "/verify-email", route: "/verify-email?token=verify-tok-0001" });
    await screen.findByRole("heading", { name: "Your e-mail address is confirmed" });
    expect(router.state.location.search).toBe("");
    expect(calls).toHaveLength(1);
    expect(new URL(calls[0]!.url).searchParams.get("token")).toBe("verify-tok-0001");
    expect(calls[0]!.headers.get("accept")).toBe("application/json");
  });

  it("shows the API's detail for a used link", async () => {
    serve(() => problem(404, "This verification link is not valid (or was used already)."));
    renderPage(<VerifyEmailPage />, { path: "/verify-email", route: "/verify-email?token=verify-tok-0002" });
    await screen.findByRole("heading", { name: "This link does not work" });
    expect(screen.getByRole("alert").textContent).toContain("not valid (or was used already)");
  });
});
