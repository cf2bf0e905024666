import { describe, expect, it } from "vitest";
import { changeRequest, createRequest, departmentChoices, emptyCreateForm, listParams, parseDepartments, type AdminUserView } from "./logic";

const staff: AdminUserView = {
  id: "00000000-0000-4000-8000-000000000009",
  email: "crew@city.example",
  display_name: "Crew",
  role: "staff",
  departments: ["roads", "parks"],
  email_verified: true,
  created_at: "2026-01-01T00:00:00Z",
  disabled: false,
};

describe("users logic", () => {
  it("parses free-typed departments", () => {
    expect(parseDepartments(" Roads, parks  water,,roads ")).toEqual(["roads", "parks", "water"]);
  });

  it("offers catalogue and held departments once, sorted", () => {
    expect(departmentChoices(["roads", "water", "roads"], ["parks", "roads"])).toEqual(["parks", "roads", "water"]);
  });

  it("sends only what changed", () => {
    expect(changeRequest(staff, { role: "staff", departments: ["parks", "roads"], otherDepartments: "" })).toBeNull();
    expect(changeRequest(staff, { role: "admin", departments: ["roads", "parks"], otherDepartments: "" })).toEqual({ role: "admin" });
    expect(changeRequest(staff, { role: "staff", departments: ["roads"], otherDepartments: "water" })).toEqual({
      departments: ["roads", "water"],
    });
    // Demoting to citizen: the API clears the departments itself.
    expect(changeRequest(staff, { role: "citizen", departments: ["roads"], otherDepartments: "" })).toEqual({ role: "citizen" });
  });

  it("shapes the create request", () => {
    const form = { ...emptyCreateForm(), email: " a@b.example ", display_name: " A ", password: "long-enough-1", departments: ["roads"], otherDepartments: "Water" };
    expect(createRequest(form)).toEqual({
      email: "a@b.example",
      display_name: "A",
      password: "long-enough-1",
      role: "staff",
      departments: ["roads", "water"],
    });
    expect(createRequest({ ...form, departments: [], otherDepartments: "" })).not.toHaveProperty("departments");
  });

  it("leaves empty filters out of the query", () => {
    expect(listParams({ role: "", q: "  " }, undefined)).toEqual({ role: undefined, q: undefined, cursor: undefined, limit: 25 });
    expect(listParams({ role: "staff", q: "crew" }, "c1")).toEqual({ role: "staff", q: "crew", cursor: "c1", limit: 25 });
  });
});
