import { describe, expect, it } from "vitest";
import { budgetReached } from "./authenticator.ts";
import type { Tenant } from "./tenant-store.ts";

const tenant: Tenant = {
  tenantId: "acme",
  status: "active",
  allowedModels: [],
  rpm: 0,
  tpm: 0,
  dailyUsd: 10,
  monthlyUsd: 100,
};

describe("budgetReached", () => {
  it("refuses once the stored spend reaches a budget (>=), daily first", () => {
    expect(budgetReached(tenant, { todayUsd: 9.99, monthUsd: 50 })).toBeUndefined();
    expect(budgetReached(tenant, { todayUsd: 10, monthUsd: 50 })).toBe("daily");
    expect(budgetReached(tenant, { todayUsd: 1, monthUsd: 100 })).toBe("monthly");
  });

  it("never refuses a tenant without budgets", () => {
    const free = { ...tenant, dailyUsd: undefined, monthlyUsd: undefined };
    expect(budgetReached(free, { todayUsd: 1e9, monthUsd: 1e9 })).toBeUndefined();
  });
});
