import { describe, expect, it } from "vitest";
import { L } from "./leaflet";

describe("leaflet", () => {
  it("draws a map with a marker in jsdom, with bundled marker images", () => {
    const element = document.createElement("div");
    document.body.append(element);
    const map = L.map(element).setView([12.9716, 77.5946], 12);
    const marker = L.marker([12.9716, 77.5946]).addTo(map);
    expect(map.hasLayer(marker)).toBe(true);
    expect(String(L.Icon.Default.prototype.options.iconUrl)).toMatch(/marker-icon/);
    map.remove();
  });
});
