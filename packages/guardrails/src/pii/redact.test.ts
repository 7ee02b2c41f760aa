import fc from "fast-check";
import { expect, test } from "vitest";
import { piiCorpus } from "./corpus.ts";
import { BUILTIN_RECOGNISERS } from "./recognisers.ts";
import { maskValue, PlaceholderMap, redactText } from "./redact.ts";

const reversible = () => ({
  operatorFor: () => "reversible" as const,
  hashSalt: "",
  placeholders: new PlaceholderMap(),
  replaced: new PlaceholderMap(),
});

test("a reversible redaction restored gives the original text back (property)", () => {
  const corpus = piiCorpus().map((c) => c.text);
  const piece = fc.oneof(
    fc.constantFrom(...corpus),
    fc.string(),
    fc.constantFrom("<EMAIL_1>", "<PHONE_2>", " "),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 6 }), (pieces) => {
      const text = pieces.join(" ");
      const opts = reversible();
      const r = redactText(text, BUILTIN_RECOGNISERS, opts);
      expect(opts.placeholders.restore(r.text)).toBe(text);
    }),
    { numRuns: 300 },
  );
});

test("the same value gets the same placeholder, and a literal placeholder in the text is never reused", () => {
  const opts = reversible();
  const r = redactText(
    "<EMAIL_1> is not ana@example.com; write ana@example.com or bo@example.com",
    BUILTIN_RECOGNISERS,
    opts,
  );
  expect(r.text).toBe("<EMAIL_1> is not <EMAIL_2>; write <EMAIL_2> or <EMAIL_3>");
});

test("mask keeps separators and the last four characters; hash is salted and stable", () => {
  expect(maskValue("4111 1111 1111 1234")).toBe("**** **** **** 1234");
  const hashed = (salt: string) =>
    redactText("mail ana@example.com", BUILTIN_RECOGNISERS, {
      ...reversible(),
      operatorFor: () => "hash",
      hashSalt: salt,
    }).text;
  expect(hashed("a")).toBe(hashed("a"));
  expect(hashed("a")).not.toBe(hashed("b"));
  expect(hashed("a")).toMatch(/^mail <EMAIL_[0-9a-f]{12}>$/);
});

test("replace placeholders are never restored", () => {
  const opts = { ...reversible(), operatorFor: () => "replace" as const };
  const r = redactText("card 4111 1111 1111 1111", BUILTIN_RECOGNISERS, opts);
  expect(r.text).toBe("card <CARD_1>");
  expect(opts.placeholders.restore(r.text)).toBe("card <CARD_1>");
});
