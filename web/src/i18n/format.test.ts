import { describe, expect, it } from "vitest";
import { formatDate, formatDateTime, formatNumber, formatRelative } from "./format";

describe("format", () => {
  it("groups numbers in lakhs for en-IN", () => {
    expect(formatNumber(150000, "en")).toBe("1,50,000");
    expect(formatNumber(12345678, "en")).toBe("1,23,45,678");
  });
  it("groups numbers in lakhs for hi-IN too", () => {
    expect(formatNumber(150000, "hi")).toMatch(/^(1,50,000|१,५०,०००)$/);
  });
  it("formats dates in India's time zone", () => {
    // 20:00 UTC is 01:30 the next day in India.
    expect(formatDate("2026-01-14T20:00:00Z", "en")).toBe("15 Jan 2026");
    expect(formatDateTime("2026-01-14T20:00:00Z", "en")).toMatch(/15 Jan 2026.*1:30\s?am/i);
    expect(formatDate("2026-01-14T20:00:00Z", "hi")).toContain("जन॰");
  });
  it("says how long ago", () => {
    const now = new Date("2026-01-15T12:00:00Z");
    expect(formatRelative("2026-01-15T09:00:00Z", "en", now)).toBe("3 hours ago");
    expect(formatRelative("2026-01-17T12:00:00Z", "en", now)).toBe("in 2 days");
    expect(formatRelative("2026-01-15T11:59:58Z", "hi", now)).toMatch(/सेकंड/);
  });
});
