import { describe, expect, it } from "vitest";
import { assignDepartment, assigneeLabel, colleagues, optionLabels, type StaffMember } from "./directory";

const meera: StaffMember = { id: "0190a2b4-1c3d-7e5f-8a9b-0000000000e1", display_name: "Meera", departments: ["roads"] };
const me: StaffMember = { id: "0190a2b4-1c3d-7e5f-8a9b-0000000000e2", display_name: "Ravi", departments: ["roads"] };
const otherRavi: StaffMember = { id: "0190a2b4-1c3d-7e5f-8a9b-0000000000e3", display_name: "Ravi", departments: ["roads"] };

describe("staff directory helpers", () => {
  it("assigns within the chosen department, else the only one, else none yet", () => {
    expect(assignDepartment("parks", ["roads", "parks"])).toBe("parks");
    expect(assignDepartment("", ["roads"])).toBe("roads");
    expect(assignDepartment("", ["roads", "parks"])).toBe("");
    expect(assignDepartment("", [])).toBe("");
  });

  it("offers everyone but oneself", () => {
    expect(colleagues([meera, me, otherRavi], me.id)).toEqual([meera, otherRavi]);
    expect(colleagues([meera], undefined)).toEqual([meera]);
  });

  it("names the assignee: You, the directory's name, or the id", () => {
    expect(assigneeLabel(me.id, [meera, me], me.id, "You")).toBe("You");
    expect(assigneeLabel(meera.id, [meera, me], me.id, "You")).toBe("Meera");
    expect(assigneeLabel("0190a2b4-1c3d-7e5f-8a9b-0000000000ff", [meera], me.id, "You")).toBe(
      "0190a2b4-1c3d-7e5f-8a9b-0000000000ff",
    );
  });

  it("tells apart two people of the same name by the end of their id", () => {
    const labels = optionLabels([meera, me, otherRavi]);
    expect(labels.get(meera.id)).toBe("Meera");
    expect(labels.get(me.id)).toBe("Ravi (0000e2)");
    expect(labels.get(otherRavi.id)).toBe("Ravi (0000e3)");
  });
});
