import OpenAI, { NotFoundError, RateLimitError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedText } from "./embeddings.ts";
import { type FakeOpenAI, startFakeOpenAI } from "./index.ts";
import { summariseExtractively } from "./reply.ts";

const cosine = (a: Float32Array | number[], b: Float32Array | number[]) => {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] ?? 0) * (b[i] ?? 0);
  return dot;
};

describe("fake embeddings", () => {
  it("are unit vectors, the same for the same text, closer for texts that share words", () => {
    const a = embedText("The refund policy allows returns within 30 days", 256);
    const b = embedText("How many days do I have for returns under the refund policy?", 256);
    const c = embedText("Kafka partitions are replicated across brokers", 256);
    expect(cosine(a, a)).toBeCloseTo(1, 5);
    expect(embedText("The refund policy allows returns within 30 days", 256)).toEqual(a);
    expect(cosine(a, b)).toBeGreaterThan(0.4);
    expect(Math.abs(cosine(a, c))).toBeLessThan(0.2);
  });

  describe("through the official SDK", () => {
    let fake: FakeOpenAI;
    let client: OpenAI;
    beforeAll(async () => {
      fake = await startFakeOpenAI({ apiKey: "sk-embed" });
      client = new OpenAI({ apiKey: "sk-embed", baseURL: fake.url, maxRetries: 0 });
    });
    afterAll(() => fake.close());

    it("answers a batch in order with the requested dimensions and counts its tokens", async () => {
      const inputs = ["refund policy", "kafka brokers", "refund policy"];
      // The SDK asks for base64 and decodes it: this is the path production takes.
      const out = await client.embeddings.create({
        model: "text-embedding-3-small",
        input: inputs,
        dimensions: 64,
      });
      expect(out.data.map((d) => d.index)).toEqual([0, 1, 2]);
      expect(out.data[0]?.embedding).toHaveLength(64);
      expect(out.data[0]?.embedding).toEqual(out.data[2]?.embedding);
      expect(out.usage.prompt_tokens).toBeGreaterThan(0);
      expect(fake.stats()).toMatchObject({ embeddings_total: 1, embedding_inputs_total: 3 });
      const floats = await client.embeddings.create({
        model: "text-embedding-3-small",
        input: "refund policy",
        encoding_format: "float",
      });
      expect(floats.data[0]?.embedding).toHaveLength(1536);
    });

    it("refuses an unknown model and charges the rate limit like chat", async () => {
      await expect(client.embeddings.create({ model: "nope", input: "x" })).rejects.toBeInstanceOf(
        NotFoundError,
      );
      fake.configure({ modelLimits: { "text-embedding-3-small": { rpm: 1, tpm: 0 } } });
      await client.embeddings.create({ model: "text-embedding-3-small", input: "one" });
      await expect(
        client.embeddings.create({ model: "text-embedding-3-small", input: "two" }),
      ).rejects.toBeInstanceOf(RateLimitError);
      fake.configure({ modelLimits: {} });
    });

    it("keeps the last chat bodies it received, for tests to inspect", async () => {
      await client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "hello" }],
      });
      expect(fake.received().at(-1)?.messages).toEqual([{ role: "user", content: "hello" }]);
    });
  });
});

describe("the fake's extractive summary", () => {
  it("keeps the first sentence of each user line and the lines of an earlier summary", () => {
    const text =
      "Summary so far:\nThe user's locker code is 4711.\n\nNew turns:\nuser: I moved to Lyon. It rains.\nassistant: Echo (turn 3): noted";
    expect(summariseExtractively(text)).toBe("The user's locker code is 4711.\nI moved to Lyon.");
  });
});
