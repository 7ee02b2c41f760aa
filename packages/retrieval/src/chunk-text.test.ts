import { countTextTokens } from "@chatq/llm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkText } from "./chunk-text.ts";

const countTokens = (text: string) => countTextTokens("text-embedding-3-small", text);
const words = (text: string) => text.split(/\s+/).filter((w) => w !== "");

describe("chunkText", () => {
  it("cuts a long text into chunks within the limit that overlap", () => {
    const text = Array.from({ length: 400 }, (_, i) => `word${i}`).join(" ");
    const chunks = chunkText(text, { maxTokens: 50, overlapTokens: 10, countTokens });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.tokens).toBeLessThanOrEqual(50);
    const [first, second] = chunks;
    const lastOfFirst = words(first?.text ?? "").at(-1);
    expect(words(second?.text ?? "")).toContain(lastOfFirst);
  });

  it("gives an empty text no chunks and a short one a single chunk", () => {
    expect(chunkText("  \n ", { maxTokens: 10, overlapTokens: 2, countTokens })).toEqual([]);
    expect(chunkText("one two", { maxTokens: 10, overlapTokens: 2, countTokens })).toHaveLength(1);
  });

  it("never exceeds the limit, loses no word and keeps the order (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.stringMatching(/^[a-z]{1,12}$/), fc.string({ minLength: 1, maxLength: 40 })), {
          maxLength: 200,
        }),
        fc.integer({ min: 8, max: 60 }),
        fc.integer({ min: 0, max: 7 }),
        (parts, maxTokens, overlapTokens) => {
          const text = parts.join(" ");
          const chunks = chunkText(text, { maxTokens, overlapTokens, countTokens });
          for (const c of chunks) expect(c.tokens).toBeLessThanOrEqual(maxTokens);
          const compact = (s: string) => s.replace(/\s+/g, "");
          const whole = compact(text);
          // Each chunk is a piece of the text; the first starts it and the last ends it.
          for (const c of chunks) expect(whole).toContain(compact(c.text));
          if (whole !== "") {
            expect(whole.startsWith(compact(chunks[0]?.text ?? ""))).toBe(true);
            expect(whole.endsWith(compact(chunks.at(-1)?.text ?? ""))).toBe(true);
          }
          // Without overlap, the chunks are exactly the text, cut.
          if (overlapTokens === 0) expect(chunks.map((c) => compact(c.text)).join("")).toBe(whole);
          expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
        },
      ),
      { numRuns: 300 },
    );
  });
});
