import { act, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { clearTokens, getRefreshToken } from "../api/tokens";
import { SessionProvider, useSession } from "./session";

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const problem = (status: number) =>
  new Response(JSON.stringify({ status, title: "T" }), {
    status,
    headers: { "content-type": "application/problem+json", "retry-after": "0" },
  });

function Status() {
  const { status, user } = useSession();
  return <p>{`${status}:${user?.display_name ?? "-"}`}</p>;
}

function serve(handler: (path: string) => Response | Promise<Response>) {
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      return handler(new URL(request.url).pathname);
    }),
  );
}

afterEach(() => {
  clearTokens();
  vi.unstubAllGlobals();
});

describe("SessionProvider on page load", () => {
  it("is unreachable, not signed out, when the refresh fails for a network error (the token is kept)", async () => {
    localStorage.setItem("snapfix.refresh_token", "R1");
    serve(() => {
      throw new TypeError("Failed to fetch");
    });
    render(
      <SessionProvider>
        <Status />
      </SessionProvider>,
    );
    expect(await screen.findByText("unreachable:-")).toBeInTheDocument();
    expect(getRefreshToken()).toBe("R1");
  });

  it("is unreachable when /v1/me answers 503", async () => {
    localStorage.setItem("snapfix.refresh_token", "R1");
    serve((path) =>
      path === "/v1/auth/token" ? json({ access_token: "A", refresh_token: "R2", expires_in: 900 }) : problem(503),
    );
    render(
      <SessionProvider>
        <Status />
      </SessionProvider>,
    );
    expect(await screen.findByText("unreachable:-", undefined, { timeout: 10_000 })).toBeInTheDocument();
  });

  it("is signed out when the refresh token is refused", async () => {
    localStorage.setItem("snapfix.refresh_token", "R1");
    serve(() => json({ error: "invalid_grant" }, 400));
    render(
      <SessionProvider>
        <Status />
      </SessionProvider>,
    );
    expect(await screen.findByText("signedOut:-")).toBeInTheDocument();
    expect(getRefreshToken()).toBeNull();
  });

  it("signs in again on retry once SnapFix answers", async () => {
    localStorage.setItem("snapfix.refresh_token", "R1");
    let up = false;
    serve((path) => {
      if (!up) throw new TypeError("Failed to fetch");
      return path === "/v1/auth/token"
        ? json({ access_token: "A", refresh_token: "R2", expires_in: 900 })
        : json({ id: "u", display_name: "Asha", role: "citizen" });
    });
    let reload: () => Promise<unknown> = async () => null;
    function Grab() {
      reload = useSession().reload;
      return null;
    }
    render(
      <SessionProvider>
        <Status />
        <Grab />
      </SessionProvider>,
    );
    expect(await screen.findByText("unreachable:-")).toBeInTheDocument();
    up = true;
    await act(() => reload());
    expect(await screen.findByText("signedIn:Asha")).toBeInTheDocument();
  });

  it("retries by itself while unreachable, and is signed in once SnapFix answers", async () => {
    localStorage.setItem("snapfix.refresh_token", "R1");
    let up = false;
    const presented: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
        const request = input instanceof Request ? input : new Request(input, init);
        const path = new URL(request.url).pathname;
        if (path === "/v1/auth/token") presented.push(new URLSearchParams(await request.text()).get("refresh_token")!);
        if (!up) throw new TypeError("Failed to fetch");
        return path === "/v1/auth/token"
          ? json({ access_token: "A", refresh_token: "R2", expires_in: 900 })
          : json({ id: "u", display_name: "Asha", role: "citizen" });
      }),
    );
    render(
      <SessionProvider>
        <Status />
      </SessionProvider>,
    );
    expect(await screen.findByText("unreachable:-")).toBeInTheDocument();
    up = true;
    expect(await screen.findByText("signedIn:Asha", undefined, { timeout: 10_000 })).toBeInTheDocument();
    expect(new Set(presented)).toEqual(new Set(["R1"])); // the same token each time, until it was rotated
    expect(getRefreshToken()).toBe("R2");
  });
});
