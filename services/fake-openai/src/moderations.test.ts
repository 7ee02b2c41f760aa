import OpenAI, { RateLimitError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODERATION_CATEGORIES, moderationScores } from "./moderations.ts";
import { type FakeOpenAI, startFakeOpenAI } from "./server.ts";

describe("the fake's POST /v1/moderations", () => {
  let fake: FakeOpenAI;
  let client: OpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: "sk-test" });
    client = new OpenAI({ apiKey: "sk-test", baseURL: fake.url, maxRetries: 0 });
  });
  afterAll(() => fake.close());

  it("answers OpenAI's shape with every category, scoring the documented trigger words", async () => {
    const res = await client.moderations.create({
      model: "omni-moderation-latest",
      input: "I will kill the idiot",
    });
    const [result] = res.results;
    expect(Object.keys(result?.category_scores ?? {}).sort()).toEqual([...MODERATION_CATEGORIES].sort());
    expect(result?.flagged).toBe(true);
    expect(result?.categories.violence).toBe(true);
    expect(result?.categories.harassment).toBe(true);
    expect(result?.categories.hate).toBe(false);
    expect(fake.receivedModerations().at(-1)?.inputs).toEqual(["I will kill the idiot"]);
    expect(fake.stats().moderations_total).toBe(1);
  });

  it("a marker sets one score exactly; a harmless text is not flagged", () => {
    expect(moderationScores("hello [[mod:sexual=0.42]]").sexual).toBe(0.42);
    expect(Object.values(moderationScores("good morning")).every((s) => s < 0.01)).toBe(true);
  });

  it("has the limits and errors of the other endpoints", async () => {
    await expect(client.moderations.create({ model: "nope", input: "x" })).rejects.toMatchObject({
      status: 404,
    });
    fake.configure({ modelLimits: { "omni-moderation-latest": { rpm: 1, tpm: 0 } } });
    await client.moderations.create({ model: "omni-moderation-latest", input: "one" });
    await expect(
      client.moderations.create({ model: "omni-moderation-latest", input: "two" }),
    ).rejects.toBeInstanceOf(RateLimitError);
    fake.configure({ modelLimits: {} });
  });
});
