import { expect, it } from "vitest";
import { SUMMARY_INSTRUCTIONS, summaryPrompt } from "./summarise-conversation.ts";

it("the summary prompt carries the previous summary and the new turns one per line, instructions left out", () => {
  const turns = [
    { id: 1, role: "system" as const, content: "be brief" },
    { id: 2, role: "user" as const, content: "my code is 4711.\nAlso, hi" },
    { id: 3, role: "assistant" as const, content: "noted" },
  ];
  expect(summaryPrompt(undefined, turns)).toEqual([
    { role: "system", content: SUMMARY_INSTRUCTIONS },
    { role: "user", content: "New turns:\nuser: my code is 4711. Also, hi\nassistant: noted" },
  ]);
  expect(summaryPrompt("lives in Lyon.", turns.slice(2))[1]?.content).toBe(
    "Summary so far:\nlives in Lyon.\n\nNew turns:\nassistant: noted",
  );
});
