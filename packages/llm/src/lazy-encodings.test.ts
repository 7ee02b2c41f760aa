import { describe, expect, it } from "vitest";
import { countTextTokens, loadedEncodings } from "./estimate-tokens.ts";

// Its own file (its own module instance under vitest), so no other test has loaded an encoding before it.
describe("tokenizer encodings", () => {
  it("are loaded only for the model families counted: gpt-4o-mini alone never loads cl100k_base", () => {
    expect(loadedEncodings()).toEqual([]);
    expect(countTextTokens("gpt-4o-mini", "hello world")).toBe(2);
    expect(loadedEncodings()).toEqual(["o200k_base"]);
    expect(countTextTokens("gpt-4", "hello world")).toBe(2);
    expect(loadedEncodings().sort()).toEqual(["cl100k_base", "o200k_base"]);
  });
});
