import { describe, expect, it } from "vitest";
import i18n, { resources, setLocale } from "./index";

function keys(obj: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(obj).flatMap(([k, v]) =>
    typeof v === "object" && v !== null ? keys(v as Record<string, unknown>, `${prefix}${k}.`) : [`${prefix}${k}`],
  );
}

describe("i18n", () => {
  it("loads every namespace file for both languages", () => {
    expect(Object.keys(resources).sort()).toEqual(["en", "hi"]);
    expect(resources.en?.common).toBeDefined();
  });

  it("has the same keys in English and Hindi for every namespace", () => {
    for (const ns of Object.keys(resources.en ?? {})) {
      const en = keys(resources.en![ns]!).sort();
      const hi = keys(resources.hi?.[ns] ?? {}).sort();
      expect(hi, `hi/${ns}.json`).toEqual(en);
    }
  });

  it("switches language, remembers it and sets <html lang>", async () => {
    await setLocale("hi");
    expect(i18n.t("status.resolved")).toBe("हल हो गई");
    expect(document.documentElement.lang).toBe("hi");
    expect(localStorage.getItem("snapfix.locale")).toBe("hi");
    await setLocale("en");
    expect(i18n.t("status.resolved")).toBe("Resolved");
    expect(document.documentElement.lang).toBe("en");
  });
});
