import { createHash } from "node:crypto";
import type { Spend, Tenant, TenantStore } from "./tenant-store.ts";
import { TtlCache } from "./ttl-cache.ts";

export interface Caller {
  tenant: Tenant;
  /** `cq_<key id>`: the only part of a key that may be logged. */
  keyPrefix: string;
}

/**
 * Who a key belongs to, and what a tenant has spent, each cached for at most `ttlMs` (default 500): a key revoked
 * or a tenant disabled in Postgres is refused by every replica within that time, with one query per key per TTL.
 */
export class Authenticator {
  readonly #store: TenantStore;
  readonly #callers: TtlCache<Caller | undefined>;
  readonly #spend: TtlCache<Spend>;

  constructor(store: TenantStore, opts: { ttlMs?: number; clock?: () => number } = {}) {
    this.#store = store;
    const cacheOpts = { ttlMs: opts.ttlMs ?? 500, ...(opts.clock !== undefined && { clock: opts.clock }) };
    this.#callers = new TtlCache(cacheOpts);
    this.#spend = new TtlCache(cacheOpts);
  }

  /** undefined for a malformed, unknown, revoked key or a disabled tenant (the caller cannot tell which). */
  async authenticate(key: string): Promise<Caller | undefined> {
    // The cache is keyed by a digest, so no plaintext key stays in memory after its request.
    const cacheKey = createHash("sha256").update(key).digest("base64url");
    return this.#callers.get(cacheKey, async () => {
      const found = await this.#store.tenantOfKey(key);
      return found === undefined ? undefined : { tenant: found.tenant, keyPrefix: found.prefix };
    });
  }

  spend(tenantId: string): Promise<Spend> {
    return this.#spend.get(tenantId, () => this.#store.spend(tenantId));
  }
}

/** Which budget, if any, the tenant's stored spend has reached (reached = refused: `>=`). */
export function budgetReached(tenant: Tenant, spend: Spend): "daily" | "monthly" | undefined {
  if (tenant.dailyUsd !== undefined && spend.todayUsd >= tenant.dailyUsd) return "daily";
  if (tenant.monthlyUsd !== undefined && spend.monthUsd >= tenant.monthlyUsd) return "monthly";
  return undefined;
}
