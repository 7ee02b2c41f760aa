import { expect, test } from "vitest";
import { defaultPolicy } from "./policy.ts";
import { recognisersOf, Screening } from "./screen.ts";

test("a tenant's dictionary and pattern redact names and addresses chatq cannot find alone", () => {
  const policy = defaultPolicy({
    pii: {
      custom: [
        { entity: "PERSON", terms: ["Ana García", "John Smith"] },
        { entity: "ADDRESS", pattern: String.raw`\bCalle [A-ZÁÉÍÓÚ]\w+ \d+\b` },
      ],
    },
  });
  const s = new Screening(policy, recognisersOf(policy), undefined);
  expect(s.redact("Soy ana garcía, vivo en Calle Mayor 12").text).toBe("Soy <PERSON_1>, vivo en <ADDRESS_1>");
});
