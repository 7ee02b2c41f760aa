import { describe, expect, it } from "vitest";
import { firesBeforeAdmission, MarkerLedger, parseFaultMarker } from "./fault-markers.ts";

describe("fault markers", () => {
  it.each([
    ["please [[fail:503x2]] now", { kind: "fail", status: 503, times: 2 }],
    ["[[fail:429x1]]", { kind: "fail", status: 429, times: 1 }],
    ["[[fail:500x1]]", { kind: "fail", status: 500, times: 1 }],
    ["[[fail:400]]", { kind: "fail", status: 400, times: Number.POSITIVE_INFINITY }],
    ["[[hang:x1]]", { kind: "hang", times: 1 }],
    ["[[hang]]", { kind: "hang", times: Number.POSITIVE_INFINITY }],
    ["[[fail:quota]]", { kind: "quota", times: Number.POSITIVE_INFINITY }],
  ])("%s parses", (content, marker) => {
    expect(parseFaultMarker(content)).toEqual(marker);
  });

  it.each(["plain text", "[[fail:999x1]]", "[[fail]]", "[[hang:503]]", "[fail:503x1]", "[[fail:503x]]"])(
    "%s is not a marker",
    (content) => {
      expect(parseFaultMarker(content)).toBeUndefined();
    },
  );

  it("uses the first marker when there are several", () => {
    expect(parseFaultMarker("[[fail:500x1]] then [[hang:x1]]")).toEqual({
      kind: "fail",
      status: 500,
      times: 1,
    });
  });

  it("4xx and quota fire before admission (uncharged), 5xx and hangs after", () => {
    const at = (text: string) => {
      const marker = parseFaultMarker(text);
      if (!marker) throw new Error(`no marker in ${text}`);
      return firesBeforeAdmission(marker);
    };
    expect(at("[[fail:400]]")).toBe(true);
    expect(at("[[fail:429x1]]")).toBe(true);
    expect(at("[[fail:quota]]")).toBe(true);
    expect(at("[[fail:503x1]]")).toBe(false);
    expect(at("[[hang:x1]]")).toBe(false);
  });

  it("fires for the first N requests of each distinct content, then stops", () => {
    const ledger = new MarkerLedger();
    const a = "retry me [[fail:503x2]]";
    const b = "other text [[fail:503x2]]";
    const marker = { kind: "fail", status: 503, times: 2 } as const;
    expect([ledger.fires(a, marker), ledger.fires(a, marker), ledger.fires(a, marker)]).toEqual([
      true,
      true,
      false,
    ]);
    expect(ledger.fires(b, marker)).toBe(true);
    ledger.reset();
    expect(ledger.fires(a, marker)).toBe(true);
  });
});
