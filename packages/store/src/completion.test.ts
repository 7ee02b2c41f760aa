import type { ChatMessage, ChatRequest } from "@chatq/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { completionRows, type Outcome } from "./completion.ts";

const at = new Date("2025-01-01T00:00:00.000Z");

function outcome(
  id: string,
  fields: Partial<Outcome> & { conversation?: string; content?: string } = {},
): Outcome {
  const { conversation, content = "answer", ...rest } = fields;
  const request: ChatRequest = {
    request_id: id,
    ...(conversation === undefined ? {} : { conversation_id: conversation }),
    messages: [{ role: "user", content: `q-${id}` }],
  };
  return {
    request,
    model: "m",
    reply: { request_id: id, status: "completed", content, latency_ms: 10.6, attempts: 1 },
    newTurns: request.messages,
    apiMs: 8.4,
    attempts: 1,
    finishedAt: at,
    ...rest,
  };
}

describe("completionRows", () => {
  it("appends the request's turns then the assistant answer, for a completed request in a conversation", () => {
    const { turns } = completionRows([outcome("r1", { conversation: "c1", content: "hello" })]);
    expect(turns.map(({ role, content }) => ({ role, content }))).toEqual([
      { role: "user", content: "q-r1" },
      { role: "assistant", content: "hello" },
    ]);
    expect(turns.map((t) => t.seq)).toEqual([0, 1]);
  });

  it("adds no history for a failed request or one without a conversation", () => {
    const failed = outcome("r1", { conversation: "c1" });
    failed.reply = { request_id: "r1", status: "failed", latency_ms: 1, attempts: 3 };
    const { outcomes, turns } = completionRows([failed, outcome("r2")]);
    expect(turns).toEqual([]);
    expect(outcomes.map((o) => o.status)).toEqual(["failed", "completed"]);
  });

  it("keeps the first outcome of a request_id repeated in one group", () => {
    const rows = completionRows([outcome("r1", { content: "first" }), outcome("r1", { content: "second" })]);
    expect(rows.outcomes).toHaveLength(1);
    expect(rows.outcomes[0]?.content).toBe("first");
  });

  it("stores the reply without its content in the envelope, and whole milliseconds", () => {
    const [row] = completionRows([outcome("r1", { content: "secret" })]).outcomes;
    expect(row?.content).toBe("secret");
    expect(row?.reply).not.toHaveProperty("content");
    expect(row).toMatchObject({ latency_ms: 11, api_ms: 8, finished_at: "2025-01-01T00:00:00.000Z" });
  });

  it("takes usage and cost from the outcome, falling back to the reply, else zero tokens and unknown cost", () => {
    const fromReply = outcome("r1");
    fromReply.reply.usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    fromReply.reply.cost_usd = 0.5;
    const fromOutcome = outcome("r2", {
      usage: { prompt_tokens: 4, completion_tokens: 5, total_tokens: 9 },
      costUsd: 0.25,
    });
    const rows = completionRows([fromReply, fromOutcome, outcome("r3")]).outcomes;
    expect(rows.map((r) => [r.prompt_tokens, r.completion_tokens, r.total_tokens, r.cost_usd])).toEqual([
      [1, 2, 3, 0.5],
      [4, 5, 9, 0.25],
      [0, 0, 0, null],
    ]);
  });

  it("history keeps group order and each request's message order (property)", () => {
    const message = fc.record({
      role: fc.constantFrom<ChatMessage["role"]>("system", "user", "assistant"),
      content: fc.string({ minLength: 1, maxLength: 5 }),
    });
    const group = fc.array(
      fc.record({
        id: fc.constantFrom("a", "b", "c", "d"),
        conversation: fc.option(fc.constantFrom("c1", "c2"), { nil: undefined }),
        ok: fc.boolean(),
        turns: fc.array(message, { maxLength: 4 }),
      }),
      { maxLength: 10 },
    );
    fc.assert(
      fc.property(group, (items) => {
        const outcomes = items.map((it) => {
          const o = outcome(it.id, it.conversation === undefined ? {} : { conversation: it.conversation });
          o.newTurns = it.turns;
          if (!it.ok) o.reply = { request_id: it.id, status: "failed", latency_ms: 0, attempts: 1 };
          return o;
        });
        const expected: { request_id: string; role: string; content: string }[] = [];
        const seen = new Set<string>();
        for (const o of outcomes) {
          if (seen.has(o.request.request_id)) continue;
          seen.add(o.request.request_id);
          if (o.reply.status !== "completed" || o.request.conversation_id === undefined) continue;
          for (const m of [...o.newTurns, { role: "assistant", content: "answer" }]) {
            expected.push({ request_id: o.request.request_id, ...m });
          }
        }
        const { turns } = completionRows(outcomes);
        expect(turns.map(({ request_id, role, content }) => ({ request_id, role, content }))).toEqual(
          expected,
        );
        expect(turns.map((t) => t.seq)).toEqual(turns.map((_, i) => i));
      }),
    );
  });
});
