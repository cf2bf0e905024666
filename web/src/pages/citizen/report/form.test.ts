import { describe, expect, it } from "vitest";
import { ProblemError } from "../../../api/problem";
import {
  attributesOf,
  attributeValue,
  buildRequest,
  EMPTY_DRAFT,
  fieldMessage,
  groupCategories,
  parseCoordinate,
  photoType,
  pointOf,
  validate,
  type ReportDraft,
} from "./form";
import { category, POTHOLE } from "./fixtures";


const filled: ReportDraft = {
  ...EMPTY_DRAFT,
  lat: "12.9716",
  lon: "77.5946",
  category: "pothole",
  title: "  Deep pothole  ",
  description: " near the stop ",
  attributes: { depth_cm: "12,5", lane: "bike_lane", flickering: "false", pole_number: "  " },
};

describe("coordinates", () => {
  it("parses typed degrees, a decimal comma too, and refuses the rest", () => {
    expect(parseCoordinate(" 12.5 ")).toBe(12.5);
    expect(parseCoordinate("-77,25")).toBe(-77.25);
    expect(parseCoordinate("")).toBeNull();
    expect(parseCoordinate("12.5abc")).toBeNull();
    expect(parseCoordinate("1e3")).toBeNull();
    expect(pointOf({ lat: "91", lon: "0" })).toBeNull();
    expect(pointOf({ lat: "12", lon: "-180" })).toEqual({ lat: 12, lon: -180 });
  });
});

describe("attributes", () => {
  const [depth, lane, flickering, pole] = POTHOLE.attributes!;
  it("types each datatype's input", () => {
    expect(attributeValue(depth!, "12")).toBe(12);
    expect(attributeValue(depth!, "deep")).toEqual({ error: "errors.number" });
    expect(attributeValue(lane!, "bike_lane")).toBe("bike_lane");
    expect(attributeValue(lane!, "sidewalk")).toEqual({ error: "errors.choose" });
    expect(attributeValue(flickering!, "true")).toBe(true);
    expect(attributeValue(flickering!, "false")).toBe(false);
    expect(attributeValue(pole!, " A-17 ")).toBe("A-17");
    expect(attributeValue(pole!, "   ")).toBeUndefined();
  });

  it("leaves out what was not given and names a missing required one as the API does", () => {
    expect(attributesOf(POTHOLE, { depth_cm: "" })).toEqual({ values: {}, errors: { "attributes.lane": "errors.required" } });
    expect(attributesOf(POTHOLE, filled.attributes)).toEqual({
      values: { depth_cm: 12.5, lane: "bike_lane", flickering: false },
      errors: {},
    });
  });

  it("ignores values of attributes the category does not have (a category switched after typing)", () => {
    expect(attributesOf(POTHOLE, { lane: "driving_lane", bin_type: "household" }).values).toEqual({ lane: "driving_lane" });
  });
});

describe("validate", () => {
  it("finds each missing or wrong field", () => {
    expect(validate(EMPTY_DRAFT, undefined)).toEqual({
      location: "errors.location",
      category: "errors.category",
      title: "errors.titleShort",
    });
    const bad = { ...filled, lat: "100", lon: "x", title: "ab", attributes: { lane: "", depth_cm: "deep" } };
    expect(validate(bad, POTHOLE, true)).toEqual({
      lat: "errors.lat",
      lon: "errors.lon",
      title: "errors.titleShort",
      "attributes.depth_cm": "errors.number",
      "attributes.lane": "errors.required",
      photos: "errors.photosBusy",
    });
  });

  it("passes a complete draft", () => {
    expect(validate(filled, POTHOLE)).toEqual({});
  });
});

describe("buildRequest", () => {
  it("shapes POST /v1/issues: numbers, trimmed text, typed attributes, at most five photos", () => {
    const ids = ["a", "b", "c", "d", "e", "f"];
    expect(buildRequest(filled, POTHOLE, ids)).toEqual({
      title: "Deep pothole",
      description: "near the stop",
      category: "pothole",
      lat: 12.9716,
      lon: 77.5946,
      attributes: { depth_cm: 12.5, lane: "bike_lane", flickering: false },
      media_ids: ["a", "b", "c", "d", "e"],
      anonymous: false,
    });
  });

  it("refuses to build without a location", () => {
    expect(() => buildRequest({ ...filled, lat: "" }, POTHOLE, [])).toThrow();
  });
});

describe("groupCategories", () => {
  it("groups by group, sorted, ungrouped last", () => {
    const c = category;
    const groups = groupCategories([c("tree", "Tree", ""), c("pothole", "Pothole", "Streets"), c("garbage", "Garbage", "Sanitation"), c("light", "Light", "Streets")]);
    expect(groups.map((g) => [g.group, g.items.map((i) => i.code)])).toEqual([
      ["Sanitation", ["garbage"]],
      ["Streets", ["light", "pothole"]],
      ["", ["tree"]],
    ]);
  });
});

describe("fieldMessage and photoType", () => {
  it("prefers the form's own message, then the server's", () => {
    const problem = new ProblemError({ status: 422, errors: [{ field: "title", message: "too short (server)" }] });
    const t = (k: string) => `t:${k}`;
    expect(fieldMessage("title", { title: "errors.titleShort" }, problem, t)).toBe("t:errors.titleShort");
    expect(fieldMessage("title", {}, problem, t)).toBe("too short (server)");
    expect(fieldMessage("category", {}, problem, t)).toBeUndefined();
  });
  it("knows the photo types the API takes, from the name when the browser gives no type", () => {
    expect(photoType({ type: "image/jpeg", name: "a.jpg" })).toBe("image/jpeg");
    expect(photoType({ type: "", name: "IMG_1.HEIC" })).toBe("image/heic");
    expect(photoType({ type: "image/gif", name: "a.gif" })).toBeNull();
    expect(photoType({ type: "image/gif", name: "a.jpg" })).toBeNull();
  });
});
