import { act, renderHook } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { loadDraft, saveDraft, useDraft } from "./draft";

describe("draft", () => {
  it("keeps typed values across a remount (a reload)", () => {
    const initial = { title: "", votes: 0 };
    const first = renderHook(() => useDraft("t1", initial));
    act(() => first.result.current[1]({ title: "Pothole", votes: 2 }));
    first.unmount();
    const second = renderHook(() => useDraft("t1", initial));
    expect(second.result.current[0]).toEqual({ title: "Pothole", votes: 2 });
    act(() => second.result.current[2]());
    expect(second.result.current[0]).toEqual(initial);
    expect(sessionStorage.getItem("snapfix.draft.t1")).toBeNull();
  });

  it("ignores unknown keys and wrong types", () => {
    sessionStorage.setItem("snapfix.draft.t2", JSON.stringify({ title: 5, extra: "x", note: "kept" }));
    expect(loadDraft("t2", { title: "", note: "" })).toEqual({ title: "", note: "kept" });
    sessionStorage.setItem("snapfix.draft.t3", "{not json");
    expect(loadDraft("t3", { a: 1 })).toEqual({ a: 1 });
  });

  it("saves and loads", () => {
    saveDraft("t4", { a: "b" });
    expect(loadDraft("t4", { a: "" })).toEqual({ a: "b" });
  });
});
