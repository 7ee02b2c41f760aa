import fc from "fast-check";
import { expect, it } from "vitest";
import { embeddingBatches } from "./embedding-batches.ts";

it("batches cover every input once, in order, within both limits (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 300 }),
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 1, max: 2000 }),
      (tokens, maxInputs, maxTokens) => {
        const batches = embeddingBatches(tokens, maxInputs, maxTokens);
        let next = 0;
        for (const b of batches) {
          expect(b.start).toBe(next);
          expect(b.end).toBeGreaterThan(b.start);
          expect(b.end - b.start).toBeLessThanOrEqual(maxInputs);
          if (b.end - b.start > 1) expect(b.tokens).toBeLessThanOrEqual(maxTokens);
          next = b.end;
        }
        expect(next).toBe(tokens.length);
      },
    ),
  );
});
