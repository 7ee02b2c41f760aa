import { expect, test } from "vitest";
import { detectLanguage, languageLabel } from "./language.ts";
import { SAMPLES } from "./language-samples.ts";

test("short chat texts in chatq's languages are detected (46 of 48 or better), labels stay bounded", () => {
  const right = SAMPLES.filter(([lang, text]) => detectLanguage(text) === lang).length;
  expect(right).toBeGreaterThanOrEqual(46);
  expect(detectLanguage("ok")).toBeUndefined();
  expect(languageLabel("ja")).toBe("other");
  expect(languageLabel(undefined)).toBe("unknown");
});
