import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { open, seal } from "./aead.ts";
import { formatEnvelope, isSealed, parseEnvelope } from "./envelope.ts";
import { VaultError } from "./vault-error.ts";

const key = Buffer.alloc(32, 7);

describe("envelope", () => {
  it("parses what it formats, for any key id, version and body", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9a-f]{16}$/),
        fc.integer({ min: 1, max: 999_999 }),
        fc.uint8Array({ minLength: 28, maxLength: 200 }),
        (keyId, version, body) => {
          const text = formatEnvelope({ keyId, version, body: Buffer.from(body) });
          expect(isSealed(text)).toBe(true);
          const back = parseEnvelope(text);
          expect(back.keyId).toBe(keyId);
          expect(back.version).toBe(version);
          expect(back.body.equals(Buffer.from(body))).toBe(true);
        },
      ),
    );
  });

  it("refuses anything else with bad_envelope, never another error", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          parseEnvelope(`cq1.${s}`);
        } catch (err) {
          expect(err).toBeInstanceOf(VaultError);
          expect((err as VaultError).code).toBe("bad_envelope");
        }
      }),
    );
  });
});

describe("AES-256-GCM seal/open", () => {
  it("opens what it sealed under the same associated data", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (text, ad) => {
        expect(open(key, seal(key, Buffer.from(text), ad), ad).toString()).toBe(text);
      }),
    );
  });

  it("a ciphertext moved to another row or column does not open: tampered", () => {
    const body = seal(key, Buffer.from("hello"), "r1|replies.content");
    expect(() => open(key, body, "r2|replies.content")).toThrow(
      expect.objectContaining({ code: "tampered" }),
    );
    const flipped = Buffer.from(body);
    flipped[14] = (flipped[14] ?? 0) ^ 1;
    expect(() => open(key, flipped, "r1|replies.content")).toThrow(
      expect.objectContaining({ code: "tampered" }),
    );
  });
});
