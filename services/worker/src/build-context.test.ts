import { describe, expect, it } from "vitest";
import { buildContext, SUMMARY_PREFIX } from "./build-context.ts";

const words = (m: { content: string }) => m.content.split(/\s+/).length;
const turn = (id: number, content: string, role: "user" | "assistant" | "system" = "user") => ({
  id,
  role,
  content,
});
const user = (content: string) => ({ role: "user" as const, content });
const roomy = { totalTokens: 1000, historyTokens: 1000 };

describe("buildContext", () => {
  it("sends the whole history when it fits, and says so", () => {
    const r = buildContext(
      {
        summary: undefined,
        history: [turn(1, "a b"), turn(2, "c", "assistant")],
        fresh: [user("d")],
        retrieved: [],
      },
      roomy,
      words,
    );
    expect(r.messages.map((m) => m.content)).toEqual(["a b", "c", "d"]);
    expect(r).toMatchObject({ history: "full", summariseThroughId: undefined, promptTokens: 4 });
  });

  it("trims the oldest turns beyond the history share and asks for a summary past them by a margin", () => {
    const history = [turn(1, "a a a"), turn(2, "b b b"), turn(3, "c c c")];
    const r = buildContext(
      { summary: undefined, history, fresh: [user("q")], retrieved: [] },
      { totalTokens: 100, historyTokens: 6 },
      words,
    );
    expect(r.messages.map((m) => m.content)).toEqual(["b b b", "c c c", "q"]);
    // A quarter of 6 tokens holds no 3-token turn: the summary covers just the dropped one.
    expect(r).toMatchObject({ history: "trimmed", summariseThroughId: 1 });
    const wide = buildContext(
      {
        summary: undefined,
        history: [
          turn(1, "a a a a a a a a a"),
          turn(2, "b b b"),
          turn(3, "c c c"),
          turn(4, "d"),
          turn(5, "e"),
        ],
        fresh: [user("q")],
        retrieved: [],
      },
      { totalTokens: 100, historyTokens: 12 },
      words,
    );
    // 12 tokens of room (margin 3) keep turns 2–5; the oldest kept (3 tokens) is summarised too, the newest never.
    expect(wide.messages.map((m) => m.content)).toEqual(["b b b", "c c c", "d", "e", "q"]);
    expect(wide).toMatchObject({ history: "trimmed", summariseThroughId: 2 });
  });

  it("puts the summary after the conversation's instructions, once each, and reports summarised", () => {
    const history = [turn(7, "be brief", "system"), turn(8, "x"), turn(9, "be brief", "system")];
    const r = buildContext(
      { summary: "the code is 4711", history, fresh: [user("q")], retrieved: [] },
      roomy,
      words,
    );
    expect(r.messages).toEqual([
      { role: "system", content: "be brief" },
      { role: "system", content: `${SUMMARY_PREFIX}the code is 4711` },
      { role: "user", content: "x" },
      { role: "user", content: "q" },
    ]);
    expect(r.history).toBe("summarised");
  });

  it("fits retrieved chunks before old turns, dropping the lowest-scoring chunks that do not fit", () => {
    const hit = (chunk: number, score: number) => ({
      document: "d.md",
      chunk,
      text: "w ".repeat(20).trim(),
      score,
    });
    const r = buildContext(
      {
        summary: undefined,
        history: [turn(1, "old old old")],
        fresh: [user("q")],
        retrieved: [hit(0, 0.9), hit(1, 0.8), hit(2, 0.7)],
      },
      { totalTokens: 70, historyTokens: 50 },
      words,
    );
    expect(r.sources.map((s) => s.chunk)).toEqual([0, 1]);
    expect(r.messages.at(-1)).toEqual(user("q"));
    expect(r.messages.at(-2)?.content).toContain("[source: d.md #1]");
    expect(r.promptTokens).toBeLessThanOrEqual(70);
  });
});
