import { describe, expect, it } from "vitest";
import {
  allowedTransitions,
  DEFAULT_FILTERS,
  departmentChoices,
  filtersFromUrl,
  filtersToUrl,
  pollUntil,
  queueSearchParams,
  refusedIds,
  runBulk,
  transitionBody,
  transitionError,
} from "./logic";

const ID = "0190a2b4-1c3d-7e5f-8a9b-0c1d2e3f4a5b";
const OTHER = "0190a2b4-1c3d-7e5f-8a9b-0c1d2e3f4a5c";

describe("allowedTransitions mirrors rules.py STAFF_TRANSITIONS", () => {
  it.each([
    ["open", ["acknowledged", "in_progress", "resolved", "rejected", "duplicate"]],
    ["acknowledged", ["in_progress", "resolved", "rejected", "duplicate"]],
    ["in_progress", ["resolved", "rejected", "duplicate"]],
    ["reopened", ["acknowledged", "in_progress", "resolved", "rejected", "duplicate"]],
    ["resolved", ["closed"]],
    ["closed", []],
    ["rejected", []],
    ["duplicate", []],
    ["withdrawn", []],
  ] as const)("%s -> %j", (from, to) => {
    expect([...allowedTransitions(from)].sort()).toEqual([...to].sort());
  });
  it("never offers the reporter's own moves", () => {
    for (const from of ["open", "acknowledged", "resolved", "closed"] as const) {
      expect(allowedTransitions(from)).not.toContain("withdrawn");
      expect(allowedTransitions(from)).not.toContain("reopened");
    }
  });
});

describe("transition checks and bodies", () => {
  const base = { note: " A crew is on it ", duplicateOf: "", reason: "" };
  it("needs a well-formed original for a duplicate, not the issue itself", () => {
    expect(transitionError({ ...base, to: "duplicate" }, ID)).toEqual({ field: "duplicate_of", key: "issue.errors.duplicateRequired" });
    expect(transitionError({ ...base, to: "duplicate", duplicateOf: "nope" }, ID)?.key).toBe("issue.errors.duplicateInvalid");
    expect(transitionError({ ...base, to: "duplicate", duplicateOf: ID.toUpperCase() }, ID)?.key).toBe("issue.errors.duplicateSelf");
    expect(transitionError({ ...base, to: "duplicate", duplicateOf: OTHER }, ID)).toBeNull();
  });
  it("needs a reason for a rejection", () => {
    expect(transitionError({ ...base, to: "rejected", reason: "  " }, ID)).toEqual({ field: "reason", key: "issue.errors.reasonRequired" });
    expect(transitionError({ ...base, to: "rejected", reason: "Private land" }, ID)).toBeNull();
    expect(transitionError({ ...base, to: "resolved" }, ID)).toBeNull();
  });
  it("sends duplicate_of and reason only with their moves, trimmed", () => {
    expect(transitionBody({ ...base, to: "resolved", duplicateOf: OTHER, reason: "x" })).toEqual({ to: "resolved", note: "A crew is on it" });
    expect(transitionBody({ ...base, to: "duplicate", duplicateOf: ` ${OTHER} ` })).toEqual({
      to: "duplicate",
      note: "A crew is on it",
      duplicate_of: OTHER,
    });
    expect(transitionBody({ ...base, to: "rejected", reason: " Private land " })).toEqual({
      to: "rejected",
      note: "A crew is on it",
      reason: "Private land",
    });
  });
});

describe("the queue's query", () => {
  it("defaults to overdue first with nothing else (the API then uses all the user's departments)", () => {
    expect(queueSearchParams(DEFAULT_FILTERS, undefined)).toEqual({ sort: "due" });
  });
  it("sends each set filter and the cursor", () => {
    expect(
      queueSearchParams({ department: "roads", status: "open", priority: "urgent", overdue: true, sort: "newest" }, "c1"),
    ).toEqual({ department: "roads", status: "open", priority: "urgent", overdue: true, sort: "newest", cursor: "c1" });
  });
  it("reads the URL, dropping unknown values, and writes back only what differs from the defaults", () => {
    const f = filtersFromUrl(new URLSearchParams("status=bogus&priority=high&sort=sideways&overdue=true&department=Roads!"));
    expect(f).toEqual({ department: "", status: "", priority: "high", overdue: true, sort: "due" });
    expect(filtersToUrl(f).toString()).toBe("priority=high&overdue=true");
    const round = { department: "parks", status: "acknowledged", priority: "", overdue: false, sort: "oldest" } as const;
    expect(filtersFromUrl(filtersToUrl(round))).toEqual(round);
  });
  it("offers staff their own departments and admins every category's", () => {
    expect(departmentChoices("staff", ["roads", "parks", "roads"], ["water"])).toEqual(["parks", "roads"]);
    expect(departmentChoices("admin", [], ["water", "roads", "water"])).toEqual(["roads", "water"]);
  });
});

describe("runBulk", () => {
  it("runs at most `limit` at once and collects every outcome in order", async () => {
    let inFlight = 0;
    let peak = 0;
    const started: string[] = [];
    const ids = Array.from({ length: 10 }, (_, i) => `id-${i}`);
    const progress: string[] = [];
    const outcomes = await runBulk(
      ids,
      async (id) => {
        started.push(id);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5 + (Number(id.slice(3)) % 3) * 3));
        inFlight--;
        if (id === "id-3" || id === "id-7") throw new Error(`no ${id}`);
        return id.toUpperCase();
      },
      { limit: 4, onProgress: (o) => progress.push(o.id) },
    );
    expect(peak).toBe(4);
    expect(started).toHaveLength(10);
    expect(outcomes.map((o) => o.id)).toEqual(ids);
    expect(outcomes.filter((o) => o.ok).map((o) => (o.ok ? o.value : null))).toEqual(
      ids.filter((i) => i !== "id-3" && i !== "id-7").map((i) => i.toUpperCase()),
    );
    const refused = outcomes.filter((o) => !o.ok);
    expect(refused.map((o) => (o.ok ? "" : (o.error as Error).message))).toEqual(["no id-3", "no id-7"]);
    expect([...refusedIds(outcomes)]).toEqual(["id-3", "id-7"]);
    expect(progress.sort()).toEqual([...ids].sort());
  });
  it("does nothing for no ids and never exceeds the number of ids", async () => {
    expect(await runBulk([], async () => 1)).toEqual([]);
    let peak = 0;
    let inFlight = 0;
    await runBulk(["a", "b"], async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
    });
    expect(peak).toBe(2);
  });
});

describe("pollUntil", () => {
  it("reads until the change shows", async () => {
    let n = 0;
    const result = await pollUntil(async () => ++n, (v) => v >= 3, { intervalMs: 1, sleep: async () => undefined });
    expect(result).toEqual({ value: 3, settled: true });
  });
  it("gives up after the time box with the last value, riding over failed reads", async () => {
    let n = 0;
    const result = await pollUntil(
      async () => {
        n++;
        if (n === 2) throw new Error("blip");
        return "old";
      },
      (v) => v === "new",
      { timeoutMs: 30, intervalMs: 5 },
    );
    expect(result.settled).toBe(false);
    expect(result.value).toBe("old");
    expect(n).toBeGreaterThan(2);
  });
});
