import { describe, expect, it, vi } from "vitest";
import { ProblemError } from "../../api/problem";
import { once, passwordIssues, plausibleToken, retryable, withoutToken } from "./logic";

describe("passwordIssues", () => {
  it("accepts a long passphrase", () => {
    expect(passwordIssues("violet-harbour-71-lantern")).toEqual([]);
  });

  it("enforces the API's length bounds, counting characters not UTF-16 units", () => {
    expect(passwordIssues("short-9ch")).toEqual(["tooShort"]);
    expect(passwordIssues("a".repeat(10))).toEqual([]);
    expect(passwordIssues("a".repeat(129))).toEqual(["tooLong"]);
    // 9 emoji are 18 UTF-16 units but 9 characters: still too short.
    expect(passwordIssues("😀".repeat(9))).toEqual(["tooShort"]);
    expect(passwordIssues("नमस्ते-दुनिया")).toEqual([]);
  });

  it("refuses a password containing the e-mail's name or the display name", () => {
    expect(passwordIssues("xx-ramesh.k-2026", { email: "Ramesh.K@example.org" })).toEqual(["containsEmail"]);
    expect(passwordIssues("i-am-Priya-Sharma!", { name: " priya sharma " })).toEqual([]);
    expect(passwordIssues("i-am-priya sharma!", { name: "Priya Sharma" })).toEqual(["containsName"]);
    // Very short names and local parts would match too much: not checked.
    expect(passwordIssues("abc-timber-forest", { email: "abc@example.org", name: "Ab" })).toEqual([]);
  });

  it("checks the confirmation only when one is given", () => {
    expect(passwordIssues("violet-harbour-71", { confirm: "violet-harbour-71" })).toEqual([]);
    expect(passwordIssues("violet-harbour-71", { confirm: "violet-harbour-72" })).toEqual(["mismatch"]);
    expect(passwordIssues("short", { confirm: "" })).toEqual(["tooShort", "mismatch"]);
  });
});

describe("tokens", () => {
  it("accepts only what the API could accept", () => {
    expect(plausibleToken("abcdefghij")).toBe(true);
    expect(plausibleToken("abc")).toBe(false);
    expect(plausibleToken(null)).toBe(false);
    expect(plausibleToken("a".repeat(201))).toBe(false);
    expect(plausibleToken("a".repeat(999), 1000)).toBe(true);
    expect(plausibleToken("abcdefghij klm")).toBe(false);
  });

  it("drops the token from the address, keeping the rest", () => {
    expect(withoutToken("/password-reset", "?token=secret-123")).toBe("/password-reset");
    expect(withoutToken("/verify-email", "?token=s&next=%2Fme", "#x")).toBe("/verify-email?next=%2Fme#x");
    expect(withoutToken("/unsubscribe", "")).toBe("/unsubscribe");
  });

  it("spends a single-use token once however often the effect runs, but retries a failure", async () => {
    const cache = new Map<string, Promise<string>>();
    const call = vi.fn().mockResolvedValue("verified");
    const [a, b] = await Promise.all([once(cache, "t1", call), once(cache, "t1", call)]);
    expect([a, b]).toEqual(["verified", "verified"]);
    expect(call).toHaveBeenCalledTimes(1);

    const failing = vi.fn().mockRejectedValueOnce(new Error("offline")).mockResolvedValueOnce("ok");
    await expect(once(cache, "t2", failing)).rejects.toThrow("offline");
    await expect(once(cache, "t2", failing)).resolves.toBe("ok");
    expect(failing).toHaveBeenCalledTimes(2);
  });
});

describe("retryable", () => {
  it("offers a retry for network and server failures, not for a refused link", () => {
    expect(retryable(new ProblemError({ status: 0, title: "Network error" }))).toBe(true);
    expect(retryable(new ProblemError({ status: 503 }))).toBe(true);
    expect(retryable(new ProblemError({ status: 400, detail: "The unsubscribe link is not valid." }))).toBe(false);
    expect(retryable(new ProblemError({ status: 404 }))).toBe(false);
  });
});
