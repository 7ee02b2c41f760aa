import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey, parseApiKey, sameHash } from "./api-key.ts";

describe("api keys", () => {
  it("are random, carry their visible prefix, and hash to what was stored", () => {
    const a = generateApiKey("pepper");
    const b = generateApiKey("pepper");
    expect(a.plaintext).not.toBe(b.plaintext);
    expect(a.plaintext.startsWith(`${a.prefix}_`)).toBe(true);
    expect(parseApiKey(a.plaintext)).toEqual({ keyId: a.keyId, prefix: a.prefix });
    expect(sameHash(hashApiKey("pepper", a.plaintext), a.hash)).toBe(true);
  });

  it("hash differently under another pepper", () => {
    const a = generateApiKey("pepper");
    expect(sameHash(hashApiKey("other", a.plaintext), a.hash)).toBe(false);
  });

  it("parse only well-formed keys, never throwing", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const parsed = parseApiKey(s);
        if (parsed !== undefined) expect(s.startsWith(parsed.prefix)).toBe(true);
      }),
    );
    expect(parseApiKey("sk-chatq-test")).toBeUndefined();
    expect(parseApiKey(`cq_0000000g_${"a".repeat(43)}`)).toBeUndefined();
  });
});
