import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ChainRow, genesisHash, walkChain } from "./audit-chain.ts";

function chainOf(texts: readonly string[]): ChainRow[] {
  let prev = genesisHash(3);
  return texts.map((text, n) => {
    const hash = createHash("sha256").update(prev).update(text, "utf8").digest();
    const row = { id: String(100 + n), chain: 3, chain_seq: String(n + 1), prev_hash: prev, hash, text };
    prev = hash;
    return row;
  });
}

const start = { chain: 3, seq: 0, hash: genesisHash(3) };

describe("walkChain", () => {
  it("a chain as written verifies, and its cursor ends on the last row", () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 30 }), (texts) => {
        const rows = chainOf(texts);
        const { cursor, broken } = walkChain(start, rows);
        expect(broken).toBeUndefined();
        expect(cursor.seq).toBe(texts.length);
      }),
    );
  });

  it("names the first edited row, whichever it is", () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 30 }), fc.nat(), (texts, pick) => {
        const rows = chainOf(texts);
        const at = pick % rows.length;
        const edited = rows.map((r, n) => (n === at ? { ...r, text: `${r.text}!` } : r));
        expect(walkChain(start, edited).broken).toMatchObject({
          id: String(100 + at),
          reason: "row_altered",
        });
      }),
    );
  });

  it("a removed row breaks the link at the row after it; pages continue from the cursor", () => {
    const rows = chainOf(["a", "b", "c", "d"]);
    expect(walkChain(start, [rows[0], rows[2], rows[3]] as ChainRow[]).broken).toMatchObject({
      id: "102",
      reason: "link_broken",
    });
    const first = walkChain(start, rows.slice(0, 2));
    expect(walkChain(first.cursor, rows.slice(2)).broken).toBeUndefined();
  });
});
