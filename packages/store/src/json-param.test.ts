import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonParam } from "./json-param.ts";

describe("jsonParam", () => {
  it("replaces NUL and lone surrogates, which Postgres text cannot hold", () => {
    expect(JSON.parse(jsonParam([{ a: "x\u0000y", b: "\ud800z" }]))).toEqual([
      { a: "x\uFFFDy", b: "\uFFFDz" },
    ]);
  });

  it("leaves every other string exactly as it was (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        fc.pre(!s.includes("\0"));
        expect(JSON.parse(jsonParam({ s }))).toEqual({ s });
      }),
    );
  });

  it("output only ever holds well-formed text without NUL (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const back = JSON.parse(jsonParam([s]))[0] as string;
        expect(back.isWellFormed()).toBe(true);
        expect(back.includes("\0")).toBe(false);
        expect(back.length).toBe(s.length);
      }),
    );
  });
});
