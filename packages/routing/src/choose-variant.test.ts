import { describe, expect, it } from "vitest";
import { chooseVariant } from "./choose-variant.ts";

const split = (a: number, b: number) => [
  { name: "A", deployment: "a", weight: a },
  { name: "B", deployment: "b", weight: b },
];
const conversations = Array.from({ length: 10_000 }, (_, i) => `conv-${i}`);

describe("sticky weighted choice", () => {
  it("puts 10,000 conversations at 90/10 within 1 % of the split", () => {
    const onB = conversations.filter((c) => chooseVariant(split(90, 10), c).name === "B").length;
    console.log(`90/10: ${onB} of 10000 on B`);
    expect(Math.abs(onB / 10_000 - 0.1)).toBeLessThan(0.01);
  });

  it("keeps each conversation on one variant across restarts (the choice is a function of key and table)", () => {
    const first = conversations.map((c) => chooseVariant(split(90, 10), c).name);
    // A fresh table object, variants in another order: what a restart or another replica would build.
    const reordered = [...split(90, 10)].reverse();
    expect(conversations.map((c) => chooseVariant(reordered, c).name)).toEqual(first);
  });

  it("moving 90/10 to 80/20 moves only about 10 % of conversations, all towards the grown variant", () => {
    let moved = 0;
    let movedToA = 0;
    for (const c of conversations) {
      const before = chooseVariant(split(90, 10), c).name;
      const after = chooseVariant(split(80, 20), c).name;
      if (before !== after) moved++;
      if (before === "B" && after === "A") movedToA++;
    }
    console.log(`90/10 → 80/20: ${moved} of 10000 conversations moved (${(moved / 100).toFixed(2)} %)`);
    expect(Math.abs(moved / 10_000 - 0.1)).toBeLessThan(0.01);
    expect(movedToA).toBe(0);
  });

  it("never chooses a variant of weight 0 (kept for fallbacks only)", () => {
    const v = [...split(1, 0), { name: "C", deployment: "c", weight: 0 }];
    expect(conversations.slice(0, 500).every((c) => chooseVariant(v, c).name === "A")).toBe(true);
  });

  it("spreads three variants by their weights", () => {
    const v = [...split(50, 30), { name: "C", deployment: "c", weight: 20 }];
    const counts: Record<string, number> = { A: 0, B: 0, C: 0 };
    for (const c of conversations)
      counts[chooseVariant(v, c).name] = (counts[chooseVariant(v, c).name] ?? 0) + 1;
    expect(Math.abs((counts.A ?? 0) / 10_000 - 0.5)).toBeLessThan(0.02);
    expect(Math.abs((counts.C ?? 0) / 10_000 - 0.2)).toBeLessThan(0.02);
  });
});
