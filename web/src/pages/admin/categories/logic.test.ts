import { describe, expect, it } from "vitest";
import {
  attributesReducer,
  emptyForm,
  formFromCategory,
  parseOptions,
  toBody,
  validateCanned,
  validateForm,
  type AttributeDraft,
} from "./logic";

const spec = {
  code: "pothole",
  name: "Pothole",
  group: "Roads",
  description: "A hole",
  keywords: ["hole", "road"],
  department: "roads",
  sla_hours: 48,
  attributes: [
    { code: "depth", description: "Depth", datatype: "number" as const, required: true, values: [] },
    {
      code: "lane",
      description: "Where",
      datatype: "singlevaluelist" as const,
      required: false,
      values: [
        { key: "driving", name: "Driving lane" },
        { key: "edge", name: "edge" },
      ],
    },
  ],
  canned_responses: [{ id: "fixed", title: "Fixed", body: "We filled it." }],
};

describe("attributesReducer", () => {
  const three = (): AttributeDraft[] =>
    ["a", "b", "c"].map((code) => ({ uid: code, code, description: "", datatype: "string", required: false, options: "" }));

  it("adds an empty text attribute at the end", () => {
    const next = attributesReducer(three(), { type: "add" });
    expect(next).toHaveLength(4);
    expect(next[3]).toMatchObject({ code: "", datatype: "string", required: false });
    expect(new Set(next.map((a) => a.uid)).size).toBe(4);
  });

  it("removes by row identity, not position", () => {
    expect(attributesReducer(three(), { type: "remove", uid: "b" }).map((a) => a.code)).toEqual(["a", "c"]);
  });

  it("moves up and down and ignores moves past the ends", () => {
    expect(attributesReducer(three(), { type: "move", uid: "c", by: -1 }).map((a) => a.code)).toEqual(["a", "c", "b"]);
    expect(attributesReducer(three(), { type: "move", uid: "a", by: 1 }).map((a) => a.code)).toEqual(["b", "a", "c"]);
    const list = three();
    expect(attributesReducer(list, { type: "move", uid: "a", by: -1 })).toBe(list);
    expect(attributesReducer(list, { type: "move", uid: "c", by: 1 })).toBe(list);
  });

  it("changes one row's fields", () => {
    const next = attributesReducer(three(), { type: "change", uid: "b", patch: { required: true, datatype: "number" } });
    expect(next[1]).toMatchObject({ code: "b", required: true, datatype: "number" });
    expect(next[0]).toMatchObject({ required: false, datatype: "string" });
  });

  it("stops at 30 attributes", () => {
    let list: AttributeDraft[] = [];
    for (let i = 0; i < 35; i++) list = attributesReducer(list, { type: "add" });
    expect(list).toHaveLength(30);
  });
});

describe("canned response checks", () => {
  it("accepts good ones", () => {
    expect(validateCanned([{ id: "fixed-1", title: "Fixed", body: "Line one\nline two\tok" }])).toEqual({});
  });

  it("names each field as the API does", () => {
    const errors = validateCanned([
      { id: "", title: "", body: "x" },
      { id: "Bad Id", title: "t".repeat(81), body: "bell\u0007" },
      { id: "same", title: "a", body: "b" },
      { id: "same", title: "a", body: "" },
    ]);
    expect(errors).toEqual({
      "canned_responses.0.id": "required",
      "canned_responses.0.title": "required",
      "canned_responses.1.id": "slug",
      "canned_responses.1.title": "tooLong",
      "canned_responses.1.body": "controlChars",
      "canned_responses.3.id": "duplicate",
      "canned_responses.3.body": "required",
    });
  });

  it("refuses more than 20", () => {
    const many = Array.from({ length: 21 }, (_, i) => ({ id: `r${i}`, title: "t", body: "b" }));
    expect(validateCanned(many)).toEqual({ canned_responses: "tooMany" });
  });
});

describe("form shaping", () => {
  it("round-trips a category into the PUT body", () => {
    const body = toBody(formFromCategory(spec));
    const { code: _code, ...expected } = spec;
    expect(body).toEqual(expected);
  });

  it("trims, splits keywords, drops options of non-lists and parses option lines", () => {
    const form = formFromCategory(spec);
    form.name = "  Pothole  ";
    form.keywords = " hole, ,road ,";
    form.attributes[0]!.options = "stale = left over";
    form.attributes[1]!.options = "a = Alpha\n\n  b  \nc=";
    const body = toBody(form);
    expect(body.name).toBe("Pothole");
    expect(body.keywords).toEqual(["hole", "road"]);
    expect(body.attributes[0]!.values).toEqual([]);
    expect(body.attributes[1]!.values).toEqual([
      { key: "a", name: "Alpha" },
      { key: "b", name: "b" },
      { key: "c", name: "c" },
    ]);
  });

  it("reads an API without canned responses as none", () => {
    const { canned_responses: _c, ...old } = spec;
    expect(formFromCategory(old).canned).toEqual([]);
    expect(toBody(formFromCategory(old)).canned_responses).toEqual([]);
  });

  it("parseOptions keeps the key when no name follows", () => {
    expect(parseOptions("x")).toEqual([{ key: "x", name: "x" }]);
  });

  it("validates the whole form with the API's field names", () => {
    const form = emptyForm();
    form.sla_hours = "0";
    form.department = "Roads Dept";
    form.attributes = [
      { uid: "1", code: "depth", description: "", datatype: "number", required: false, options: "" },
      { uid: "2", code: "depth", description: "", datatype: "singlevaluelist", required: false, options: " " },
    ];
    expect(validateForm(form, true)).toEqual({
      code: "required",
      name: "required",
      department: "slug",
      sla_hours: "slaRange",
      "attributes.1.code": "duplicate",
      "attributes.1.values": "noOptions",
    });
    expect(validateForm(formFromCategory(spec), false)).toEqual({});
  });
});
