import { describe, expect, it } from "vitest";
import { attemptOutcome, newEndpointBody } from "./logic";

describe("webhooks logic", () => {
  it("sends * for all events, else the ticked types in order", () => {
    expect(newEndpointBody({ url: " https://x.example/h ", all: true, types: ["IssueVoted"], description: " d " })).toEqual({
      url: "https://x.example/h",
      event_types: ["*"],
      description: "d",
    });
    expect(newEndpointBody({ url: "u", all: false, types: ["IssueVoted", "IssueReported", "bogus"], description: "" }).event_types).toEqual([
      "IssueReported",
      "IssueVoted",
    ]);
  });

  it("describes an attempt by its status code, else its error", () => {
    expect(attemptOutcome({ status_code: 503, error: null })).toBe("503");
    expect(attemptOutcome({ status_code: null, error: "timeout" })).toBe("timeout");
    expect(attemptOutcome({})).toBe("—");
  });
});
