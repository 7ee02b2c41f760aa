import { createHash } from "node:crypto";
import { decodeChatRequest } from "@chatq/contracts";
import { describe, expect, it } from "vitest";
import {
  CATEGORIES,
  CORPUS_MODEL,
  type CorpusItem,
  countsByCategory,
  hostileCorpus,
} from "./hostile-corpus.ts";

// The worker's limits as test/worker-fuzz.test.ts runs it: the default REQUEST_MAX_BYTES, its known models, and
// replies allowed only on its own reply topic.
const limits = {
  maxBytes: 256 * 1024,
  allowedModels: new Set([CORPUS_MODEL, "gpt-4o"]),
  allowedReplyTopics: new Set(["replies"]),
};
const digest = (items: CorpusItem[]) => {
  const h = createHash("sha256");
  for (const i of items)
    h.update(`${i.category}|${i.key}|`)
      .update(i.value ?? "<null>")
      .update(JSON.stringify(i.expect));
  return h.digest("hex");
};

describe("the hostile corpus", () => {
  const corpus = hostileCorpus({ seed: 7 });

  it("is the same for the same seed and different for another", () => {
    expect(digest(hostileCorpus({ seed: 7 }))).toBe(digest(corpus));
    expect(digest(hostileCorpus({ seed: 8 }))).not.toBe(digest(corpus));
  });

  it("has a few thousand values in every category", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(3000);
    const counts = countsByCategory(corpus);
    for (const c of CATEGORIES) expect(counts[c], c).toBeGreaterThan(0);
  });

  it("knows what the decoder does with each value", () => {
    for (const item of corpus) {
      const d = decodeChatRequest(item.value, limits);
      const label = `#${item.index} ${item.category}`;
      if (item.expect.outcome === "answered") {
        expect(d.ok ? d.request.request_id : d.rejection, label).toBe(item.expect.requestId);
        continue;
      }
      expect(d.ok, label).toBe(false);
      if (d.ok) continue;
      if (item.expect.code !== undefined) expect(d.rejection.code, label).toBe(item.expect.code);
      expect(d.rejection.requestId, label).toBe(item.expect.requestId);
    }
  });

  it("gives every answered request its own id, shared only by deliberate duplicates", () => {
    const answered = corpus.filter((i) => i.expect.outcome === "answered");
    const ids = new Set(answered.map((i) => i.expect.outcome === "answered" && i.expect.requestId));
    expect(answered.length - ids.size).toBe(countsByCategory(corpus).duplicate_good);
    // A refused message never reuses a good request's id (that would answer the good one with the refusal).
    for (const i of corpus) {
      if (i.expect.outcome === "dead_lettered" && i.expect.requestId !== undefined) {
        expect(ids.has(i.expect.requestId)).toBe(false);
      }
    }
  });

  it("has values just under and just over the byte limit", () => {
    const huge = corpus.filter((i) => i.category === "huge_string");
    const sizes = huge.map((i) => [i.expect.outcome, (i.value?.length ?? 0) <= limits.maxBytes]);
    expect(sizes).toContainEqual(["answered", true]);
    expect(sizes).toContainEqual(["dead_lettered", false]);
    for (const i of huge) expect(Math.abs((i.value?.length ?? 0) - limits.maxBytes)).toBeLessThanOrEqual(100);
  });
});
