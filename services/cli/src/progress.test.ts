import { describe, expect, it } from "vitest";
import { rateAndEta } from "./progress.ts";

describe("progress figures", () => {
  it("counts only this run's work in the rate, and the rest in the ETA", () => {
    expect(rateAndEta(600, 400, 1000, 1000)).toEqual({ rate: 200, etaSeconds: 2 });
    expect(rateAndEta(400, 400, 1000, 0)).toEqual({ rate: 0, etaSeconds: undefined });
  });
});
