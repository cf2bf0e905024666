import { afterEach, describe, expect, it, vi } from "vitest";
import { clearTokens, getAccessToken, getRefreshToken, onTokensCleared, setTokens } from "./tokens";

afterEach(() => {
  clearTokens();
  vi.useRealTimers();
});

describe("tokens", () => {
  it("shares the access token and its expiry with other tabs through localStorage", () => {
    setTokens("A1", "R1", 900);
    const stored = JSON.parse(localStorage.getItem("snapfix.access_token")!) as { token: string; expiresAt: number };
    expect(stored.token).toBe("A1");
    expect(stored.expiresAt).toBeGreaterThan(Date.now() + 800_000);
    // What another tab wrote is what this one reads.
    localStorage.setItem("snapfix.access_token", JSON.stringify({ token: "A2", expiresAt: Date.now() + 600_000 }));
    expect(getAccessToken()).toBe("A2");
    expect(getRefreshToken()).toBe("R1");
  });

  it("treats an access token about to expire as none", () => {
    vi.useFakeTimers();
    setTokens("A1", "R1", 60);
    expect(getAccessToken()).toBe("A1");
    vi.advanceTimersByTime(50_000);
    expect(getAccessToken()).toBeNull();
    expect(getRefreshToken()).toBe("R1");
  });

  it("tells the session when another tab signed out", () => {
    setTokens("A1", "R1", 900);
    const cleared = vi.fn();
    const stop = onTokensCleared(cleared);
    localStorage.clear(); // what the other tab did
    window.dispatchEvent(new StorageEvent("storage", { key: "snapfix.refresh_token", oldValue: "R1", newValue: null }));
    expect(cleared).toHaveBeenCalledTimes(1);
    expect(getAccessToken()).toBeNull();
    stop();
  });
});
