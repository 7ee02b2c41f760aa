import { createRateLimiter, type Permit, type RateLimiter, RateLimiterError } from "@chatq/ratelimit";
import type { Tenant } from "@chatq/tenants";
import { GatewayError } from "./gateway-error.ts";

export interface TenantQuotaOptions {
  redis: { url: string; keyPrefix: string } | undefined;
  /** How long a request may wait for its tenant's budget before it is refused with 429. */
  maxWaitMs: number;
  onError: (err: unknown) => void;
}

/**
 * Per-tenant RPM/TPM admission on the same shared token buckets the workers use for the API (packages/ratelimit):
 * every replica spends one budget per tenant through Redis. A limiter's limits are fixed when it is made, so there
 * is one limiter per distinct (rpm, tpm) pair, its buckets keyed by tenant: a tenant whose limits change moves to
 * fresh buckets at once.
 */
export class TenantQuota {
  readonly #limiters = new Map<string, Promise<RateLimiter>>();
  readonly #opts: TenantQuotaOptions;

  constructor(opts: TenantQuotaOptions) {
    this.#opts = opts;
  }

  /** A permit for one request of `tokens`, or a 429 GatewayError with retry-after. Unlimited tenants pass. */
  async admit(tenant: Tenant, tokens: number): Promise<Permit | undefined> {
    if (tenant.rpm === 0 && tenant.tpm === 0) return undefined;
    const limiter = await this.#limiterFor(tenant.rpm, tenant.tpm);
    try {
      return await limiter.acquire({
        model: tenant.tenantId,
        tokens,
        priority: "interactive",
        signal: AbortSignal.timeout(this.#opts.maxWaitMs),
      });
    } catch (err) {
      if (err instanceof RateLimiterError && err.code === "RATE_LIMIT_REQUEST_TOO_LARGE") {
        throw new GatewayError(
          "rate_limit_exceeded",
          `this request (~${tokens} tokens) exceeds the tenant's TPM`,
        );
      }
      if (err instanceof RateLimiterError && err.code === "RATE_LIMIT_ABORTED") {
        throw new GatewayError(
          "rate_limit_exceeded",
          `tenant ${tenant.tenantId} is over its quota (${tenant.rpm} RPM, ${tenant.tpm} TPM)`,
          { retryAfterSeconds: 1 },
        );
      }
      throw err;
    }
  }

  #limiterFor(rpm: number, tpm: number): Promise<RateLimiter> {
    const key = `${rpm}:${tpm}`;
    let limiter = this.#limiters.get(key);
    if (limiter === undefined) {
      limiter = createRateLimiter({
        limits: { default: { rpm, tpm } },
        ...(this.#opts.redis && {
          redis: {
            url: this.#opts.redis.url,
            keyPrefix: `${this.#opts.redis.keyPrefix}:gateway-tenant:${key}:`,
          },
        }),
        onError: this.#opts.onError,
      });
      limiter.catch(() => this.#limiters.delete(key));
      this.#limiters.set(key, limiter);
    }
    return limiter;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#limiters.values()].map(async (l) => (await l).close()));
  }
}
