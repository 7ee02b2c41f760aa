import { describe, expect, it } from "vitest";
import { validateChatRequest } from "./chat-request.ts";
import { buildCompletion, composeChoice } from "./reply.ts";

const call = (body: Record<string, unknown>) =>
  validateChatRequest({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Hello there" }],
    ...body,
  });

describe("composeChoice", () => {
  it("is a pure function of model, messages, seed and choice index", () => {
    const a = composeChoice(call({}), 0, 20);
    expect(composeChoice(call({ temperature: 0.3, user: "someone" }), 0, 20)).toEqual(a);
    expect(composeChoice(call({ seed: 1 }), 0, 20).content).not.toBe(a.content);
    expect(composeChoice(call({}), 1, 20).content).not.toBe(a.content);
  });

  it("echoes the first 80 characters of the last user message and numbers the user turns", () => {
    const long = "x".repeat(200);
    const choice = composeChoice(
      call({
        messages: [
          { role: "user", content: "first" },
          { role: "assistant", content: "ok" },
          { role: "user", content: long },
          { role: "tool", content: "tool output", tool_call_id: "t1" },
        ],
      }),
      0,
      0,
    );
    expect(choice.content).toBe(`Echo (turn 2): ${"x".repeat(80)}`);
  });

  it("has about replyTokens more completion tokens than the bare echo", () => {
    const bare = composeChoice(call({}), 0, 0).completionTokens;
    const padded = composeChoice(call({}), 0, 50).completionTokens;
    expect(padded - bare).toBeGreaterThanOrEqual(50);
    expect(padded - bare).toBeLessThanOrEqual(52);
  });

  it("stops at the earliest stop sequence, and max_tokens wins when it comes first", () => {
    expect(composeChoice(call({ stop: ["there", "Echo"] }), 0, 5)).toEqual({
      content: "",
      finishReason: "stop",
      completionTokens: 0,
    });
    expect(composeChoice(call({ stop: "there", max_tokens: 2 }), 0, 5)).toMatchObject({
      finishReason: "length",
      completionTokens: 2,
    });
  });

  it("json_object content is a JSON object", () => {
    const choice = composeChoice(
      call({ response_format: { type: "json_object" }, messages: [{ role: "user", content: "as json" }] }),
      0,
      5,
    );
    expect(JSON.parse(choice.content)).toMatchObject({ echo: "as json", turn: 1 });
  });
});

describe("buildCompletion", () => {
  it("sums usage over n choices", () => {
    const body = buildCompletion(call({ n: 3 }), 10, { id: "chatcmpl-x", createdSeconds: 1 });
    expect(body.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    const perChoice = body.choices.map((c) => composeChoice(call({ n: 3 }), c.index, 10).completionTokens);
    expect(body.usage.completion_tokens).toBe(perChoice.reduce((a, b) => a + b, 0));
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
  });
});
