import { describe, expect, it } from "vitest";
import { formatComparison, formatSpend, parseSince, table, unpriced } from "./ledger-report.ts";

const now = Date.parse("2026-12-15T12:00:00Z");

describe("ledger reports", () => {
  it("reads --since as a relative span or a date", () => {
    expect(parseSince("7d", now).toISOString()).toBe("2026-12-08T12:00:00.000Z");
    expect(parseSince("24h", now).toISOString()).toBe("2026-12-14T12:00:00.000Z");
    expect(parseSince("2026-12-01", now).toISOString()).toBe("2026-12-01T00:00:00.000Z");
    expect(() => parseSince("last week", now)).toThrow(/--since must be like/);
  });

  it("lines up a table with numbers to the right", () => {
    expect(
      table(
        ["name", "n"],
        [
          ["a", "1"],
          ["long", "100"],
        ],
      ),
    ).toBe("name    n\n----  ---\na       1\nlong  100");
  });

  it("totals spend and points at unpriced traffic", () => {
    const out = formatSpend([
      {
        period: "2026-12-01",
        tenant: "acme",
        route: null,
        requests: 3,
        costUsd: 1.5,
        tokens: 300,
        unpriced: 1,
      },
      {
        period: "2026-12-02",
        tenant: "acme",
        route: "chat",
        requests: 1,
        costUsd: 0.5,
        tokens: 100,
        unpriced: 0,
      },
    ]);
    expect(out).toContain("total $2.00");
    expect(out).toContain("1 completed requests had no price");
  });

  it("lists only models seen without a price", () => {
    const seen = [
      { model: "gpt-4o-mini", requests: 5, lastSeen: new Date(now) },
      { model: "my-finetune", requests: 2, lastSeen: new Date(now) },
    ];
    expect(unpriced(seen, (m) => m === "gpt-4o-mini").map((m) => m.model)).toEqual(["my-finetune"]);
  });

  it("puts variants side by side", () => {
    const f = (variant: string, requests: number) => ({
      variant,
      requests,
      completed: requests,
      failed: 0,
      costUsd: requests * 0.001,
      costPerRequestUsd: 0.001,
      costPer1kTokensUsd: 0.0005,
      latencyP50Ms: 120,
      latencyP95Ms: 300,
      answerTokensMean: 42,
      finishReasons: { stop: requests },
      refusals: 0,
      errors: {},
      fallbacks: 0,
    });
    const out = formatComparison("chat-default", [f("A", 90), f("B", 10)]);
    expect(out.split("\n")[1]).toMatch(/^\s+A\s+B$/);
    expect(out).toContain("stop:90");
  });
});
