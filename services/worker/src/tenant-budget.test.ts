import { describe, expect, it } from "vitest";
import { BudgetPolicySchema, budgetOf, decideBudget, periodsAt, TenantSpend } from "./tenant-budget.ts";

const policy = BudgetPolicySchema.parse({
  tenants: {
    acme: { daily_usd: 1, monthly_usd: 10 },
    patient: { daily_usd: 1, over: "hold" },
  },
});
const noon = Date.parse("2026-12-15T12:00:00Z");

describe("tenant budgets", () => {
  it("refuses a tenant at its daily budget with when it resets, and admits another tenant", () => {
    const acme = decideBudget(budgetOf(policy, "acme"), { dayUsd: 1, monthUsd: 3 }, noon);
    expect(acme).toEqual({
      kind: "reject",
      period: "day",
      limitUsd: 1,
      spentUsd: 1,
      resetsAtMs: Date.parse("2026-12-16T00:00:00Z"),
    });
    expect(decideBudget(budgetOf(policy, "other"), { dayUsd: 100, monthUsd: 100 }, noon)).toEqual({
      kind: "admit",
    });
    expect(decideBudget(budgetOf(policy, undefined), { dayUsd: 100, monthUsd: 100 }, noon)).toEqual({
      kind: "admit",
    });
  });

  it("holds instead of refusing when the tenant's policy says so", () => {
    expect(decideBudget(budgetOf(policy, "patient"), { dayUsd: 2, monthUsd: 2 }, noon)).toMatchObject({
      kind: "hold",
      resetsAtMs: Date.parse("2026-12-16T00:00:00Z"),
    });
  });

  it("a month over budget stays closed past midnight; the 1st opens it", () => {
    const spend = { dayUsd: 0, monthUsd: 10 };
    expect(decideBudget(budgetOf(policy, "acme"), spend, noon)).toMatchObject({
      kind: "reject",
      period: "month",
    });
    expect(periodsAt(noon).nextMonth).toBe(Date.parse("2027-01-01T00:00:00Z"));
  });

  it("flags the soft threshold but admits", () => {
    expect(decideBudget(budgetOf(policy, "acme"), { dayUsd: 0.85, monthUsd: 1 }, noon)).toEqual({
      kind: "admit",
      soft: "day",
    });
  });

  it("admits again at the period boundary (injected clock): the new day's spend is read afresh", async () => {
    let now = Date.parse("2026-12-15T23:59:59Z");
    const ledger = new Map<number, number>([[periodsAt(now).dayStart, 1]]);
    const spend = new TenantSpend({
      read: async (_tenant, dayStart) => ({ dayUsd: ledger.get(dayStart.getTime()) ?? 0, monthUsd: 1 }),
      refreshMs: 60_000,
      clock: () => now,
    });
    const budget = budgetOf(policy, "acme");
    expect(decideBudget(budget, await spend.of("acme"), now).kind).toBe("reject");
    now = Date.parse("2026-12-16T00:00:00Z");
    expect(decideBudget(budget, await spend.of("acme"), now).kind).toBe("admit");
  });

  it("counts what this worker charged since the last read, so the next request after the budget is refused", async () => {
    const now = noon;
    let reads = 0;
    const spend = new TenantSpend({
      read: async () => {
        reads++;
        return { dayUsd: 0.9, monthUsd: 0.9 };
      },
      refreshMs: 60_000,
      clock: () => now,
    });
    const budget = budgetOf(policy, "acme");
    expect(decideBudget(budget, await spend.of("acme"), now).kind).toBe("admit");
    spend.charge("acme", 0.2);
    expect(decideBudget(budget, await spend.of("acme"), now).kind).toBe("reject");
    expect(reads).toBe(1);
  });
});
