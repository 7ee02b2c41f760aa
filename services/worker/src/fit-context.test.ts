import { expect, it } from "vitest";
import { fitContext } from "./fit-context.ts";

const turn = (content: string) => ({ role: "user" as const, content });
const words = (m: { content: string }) => m.content.split(" ").length;

it("sends the whole history when it fits", () => {
  const r = fitContext([turn("a b"), turn("c")], [turn("d")], 10, words);
  expect(r).toEqual({ messages: [turn("a b"), turn("c"), turn("d")], droppedTurns: 0, promptTokens: 4 });
});

it("drops the oldest history first and never the request's own messages", () => {
  const r = fitContext([turn("a b c"), turn("d e"), turn("f")], [turn("g h")], 5, words);
  expect(r).toEqual({ messages: [turn("d e"), turn("f"), turn("g h")], droppedTurns: 1, promptTokens: 5 });
  const tight = fitContext([turn("a b c")], [turn("x y z w v u")], 2, words);
  expect(tight.messages).toEqual([turn("x y z w v u")]);
});
