import { describe, expect, it } from "vitest";
import { submitKey } from "./submitKey";

describe("submitKey", () => {
  it("reuses the key for the same request, and only until done", () => {
    let n = 0;
    const keys = submitKey(() => `k${++n}`);
    expect(keys.keyFor(["/v1/x", { a: 1 }])).toBe("k1");
    expect(keys.keyFor(["/v1/x", { a: 1 }])).toBe("k1");
    // The form changed after a refusal: a new request, a new key.
    expect(keys.keyFor(["/v1/x", { a: 2 }])).toBe("k2");
    // Another target.
    expect(keys.keyFor(["/v1/y", { a: 2 }])).toBe("k3");
    keys.done();
    expect(keys.keyFor(["/v1/y", { a: 2 }])).toBe("k4");
  });
});
