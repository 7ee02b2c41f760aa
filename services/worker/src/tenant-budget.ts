import { readFileSync } from "node:fs";
import { z } from "zod";

const usd = z.number().min(0);
export const TenantBudgetSchema = z
  .object({
    daily_usd: usd.optional(),
    monthly_usd: usd.optional(),
    /** Fraction of a budget above which admissions are counted (and alerted on) but still admitted. */
    soft_ratio: z.number().min(0).max(1).default(0.8),
    /** Over budget: refuse with `budget_exceeded`, or hold the request until the period resets. */
    over: z.enum(["reject", "hold"]).default("reject"),
  })
  .strict();

export const BudgetPolicySchema = z
  .object({
    /** Applies to tenants not listed (and to requests without a tenant: none). */
    default: TenantBudgetSchema.optional(),
    tenants: z.record(z.string().min(1).max(128), TenantBudgetSchema).default({}),
  })
  .strict();

export type TenantBudget = z.infer<typeof TenantBudgetSchema>;
export type BudgetPolicy = z.infer<typeof BudgetPolicySchema>;

export class BudgetPolicyError extends Error {
  override readonly name = "BudgetPolicyError";
  readonly code = "invalid_budget_policy";
  readonly retryable = false;
}

export function readBudgetPolicy(path: string): BudgetPolicy {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new BudgetPolicyError(`budget policy ${path} cannot be read as JSON: ${(err as Error).message}`);
  }
  const parsed = BudgetPolicySchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new BudgetPolicyError(`budget policy ${path} refused: ${problems}`);
  }
  return parsed.data;
}

/** UTC period starts: budgets reset at 00:00 UTC and on the 1st of the month. */
export function periodsAt(nowMs: number): {
  dayStart: number;
  nextDay: number;
  monthStart: number;
  nextMonth: number;
} {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const dayStart = Date.UTC(y, m, d.getUTCDate());
  return {
    dayStart,
    nextDay: dayStart + 86_400_000,
    monthStart: Date.UTC(y, m, 1),
    nextMonth: Date.UTC(y, m + 1, 1),
  };
}

export type BudgetDecision =
  | { kind: "admit"; soft?: "day" | "month" }
  | {
      kind: "reject" | "hold";
      period: "day" | "month";
      limitUsd: number;
      spentUsd: number;
      resetsAtMs: number;
    };

/**
 * Whether a tenant that has spent `spend` in its current day and month may send another request. A budget is
 * reached at `spent >= limit` (the request that crosses it was admitted below it: overshoot is at most what is in
 * flight). The month is checked first: a month over budget stays closed past midnight.
 */
export function decideBudget(
  budget: TenantBudget | undefined,
  spend: { dayUsd: number; monthUsd: number },
  nowMs: number,
): BudgetDecision {
  if (budget === undefined) return { kind: "admit" };
  const p = periodsAt(nowMs);
  const checks = [
    { period: "month" as const, limit: budget.monthly_usd, spent: spend.monthUsd, resetsAtMs: p.nextMonth },
    { period: "day" as const, limit: budget.daily_usd, spent: spend.dayUsd, resetsAtMs: p.nextDay },
  ];
  let soft: "day" | "month" | undefined;
  for (const c of checks) {
    if (c.limit === undefined) continue;
    if (c.spent >= c.limit) {
      return {
        kind: budget.over,
        period: c.period,
        limitUsd: c.limit,
        spentUsd: c.spent,
        resetsAtMs: c.resetsAtMs,
      };
    }
    if (soft === undefined && c.spent >= c.limit * budget.soft_ratio) soft = c.period;
  }
  return soft === undefined ? { kind: "admit" } : { kind: "admit", soft };
}

export function budgetOf(policy: BudgetPolicy, tenant: string | undefined): TenantBudget | undefined {
  if (tenant === undefined) return undefined;
  return policy.tenants[tenant] ?? policy.default;
}

/**
 * A tenant's spend as the worker sees it: Postgres's ledger, re-read at most every `refreshMs`, plus what this
 * worker charged since (so the request after the one that reached the budget is refused even between reads).
 * Across replicas the ledger is the truth, within one refresh and the requests in flight.
 */
export interface TenantSpendOptions {
  read: (tenant: string, dayStart: Date, monthStart: Date) => Promise<{ dayUsd: number; monthUsd: number }>;
  refreshMs: number;
  /** Epoch ms; injected in tests to cross a period boundary. */
  clock: () => number;
}

export class TenantSpend {
  readonly #o: TenantSpendOptions;
  readonly #cache = new Map<string, { at: number; dayStart: number; dayUsd: number; monthUsd: number }>();

  constructor(o: TenantSpendOptions) {
    this.#o = o;
  }

  async of(tenant: string): Promise<{ dayUsd: number; monthUsd: number }> {
    const now = this.#o.clock();
    const p = periodsAt(now);
    const hit = this.#cache.get(tenant);
    if (hit && hit.dayStart === p.dayStart && now - hit.at < this.#o.refreshMs) return hit;
    const read = await this.#o.read(tenant, new Date(p.dayStart), new Date(p.monthStart));
    const entry = { at: now, dayStart: p.dayStart, ...read };
    this.#cache.set(tenant, entry);
    return entry;
  }

  /** A cost this worker just incurred for the tenant, before its usage row is written. */
  charge(tenant: string, usd: number): void {
    const hit = this.#cache.get(tenant);
    if (!hit) return;
    hit.dayUsd += usd;
    hit.monthUsd += usd;
  }
}
