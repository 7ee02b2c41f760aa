import { describe, expect, it } from "vitest";
import { StorageBases, storageBasis, storesContent } from "./storage-policy.ts";

describe("storage basis", () => {
  it("always stores, none never does, with_consent only with a consent in force", () => {
    expect(storageBasis("always", false)).toBe("always");
    expect(storageBasis("none", true)).toBe("none");
    expect(storageBasis("with_consent", true)).toBe("consent");
    expect(storageBasis("with_consent", false)).toBe("no_consent");
    expect(["always", "consent"].map((b) => storesContent(b as "always"))).toEqual([true, true]);
    expect(storesContent("no_consent")).toBe(false);
  });

  it("caches a subject's basis for the TTL, then asks again (a revocation is seen)", async () => {
    let now = 0;
    let consented = true;
    let queries = 0;
    const bases = new StorageBases(
      async (subjects) => {
        queries++;
        return subjects.map((s) => ({ ...s, policy: "with_consent" as const, consented }));
      },
      { ttlMs: 1000, clock: () => now },
    );
    const who = [{ tenant: "acme", user_id: "u1" }];
    expect([...(await bases.of(who)).values()]).toEqual(["consent"]);
    consented = false;
    expect([...(await bases.of(who)).values()]).toEqual(["consent"]);
    now = 1001;
    expect([...(await bases.of(who)).values()]).toEqual(["no_consent"]);
    expect(queries).toBe(2);
  });
});
