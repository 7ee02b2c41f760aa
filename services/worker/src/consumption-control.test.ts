import { expect, it } from "vitest";
import { ConsumptionControl } from "./consumption-control.ts";

it("pauses on the first reason and resumes only when the last one clears", () => {
  const applied: boolean[] = [];
  const c = new ConsumptionControl({ apply: (p) => applied.push(p), onReason: () => {} });
  c.set("backpressure", true);
  c.set("auth", true);
  c.set("backpressure", false);
  expect(c.isPaused()).toBe(true);
  c.set("auth", false);
  c.set("auth", false);
  expect(applied).toEqual([true, false]);
});
