/** Test data for the report form's tests. */
import type { AttributeSpec, CategorySpec } from "../../../api/types";

export function category(code: string, name: string, group: string, attributes: AttributeSpec[] = []): CategorySpec {
  return { code, name, group, description: "", keywords: [], department: "roads", sla_hours: 72, attributes, canned_responses: [] } as CategorySpec;
}

export const POTHOLE: CategorySpec = category("pothole", "Pothole", "Streets", [
  { code: "depth_cm", description: "Approximate depth in centimetres", datatype: "number", required: false, values: [] },
  {
    code: "lane",
    description: "Where on the road",
    datatype: "singlevaluelist",
    required: true,
    values: [
      { key: "driving_lane", name: "Driving lane" },
      { key: "bike_lane", name: "Bike lane" },
    ],
  },
  { code: "flickering", description: "", datatype: "boolean", required: false, values: [] },
  { code: "pole_number", description: "", datatype: "string", required: false, values: [] },
]);
