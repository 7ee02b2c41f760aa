import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import type { BudgetStore } from "./budget-store.ts";
import type { AcquireItem, AcquireOutcome } from "./sliding-window-budget.ts";
import { PRIORITY_GRACE_MS } from "./sliding-window-budget.ts";
import type { WindowCapacity } from "./window-capacity.ts";

const SCRIPT = readFileSync(new URL("./sliding-window-budget.lua", import.meta.url), "utf8");
const SCRIPT_SHA = createHash("sha1").update(SCRIPT).digest("hex");
/** Idle models' keys vanish after this; longer than any grant lives (a minute's TPM at most). */
const KEY_TTL_MS = 180_000;

export interface RedisBudgetStoreOptions {
  url: string;
  keyPrefix?: string;
  /** When set, the budget's clock; otherwise the Redis server's TIME. */
  clock?: () => number;
}

/** The shared budget: every operation is one atomic call of sliding-window-budget.lua. */
export class RedisBudgetStore implements BudgetStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly clock: (() => number) | undefined;
  // Identifies this replica's interactive waiters in the shared priority flag.
  private readonly owner = randomUUID();

  private constructor(redis: Redis, opts: RedisBudgetStoreOptions) {
    this.redis = redis;
    this.prefix = opts.keyPrefix ?? "chatq:ratelimit:";
    this.clock = opts.clock;
  }

  static async connect(opts: RedisBudgetStoreOptions): Promise<RedisBudgetStore> {
    // Commands wait through a reconnect instead of failing after 20 tries: the caller keeps its
    // waiters queued and retries, and close() ends it all.
    const redis = new Redis(opts.url, { lazyConnect: true, maxRetriesPerRequest: null });
    await redis.connect();
    return new RedisBudgetStore(redis, opts);
  }

  async acquire(model: string, cap: WindowCapacity, items: readonly AcquireItem[]): Promise<AcquireOutcome> {
    const args: (string | number)[] = [cap.requests, cap.tokens, cap.windowMs, this.owner, PRIORITY_GRACE_MS];
    for (const it of items) args.push(it.tokens, it.interactive ? 1 : 0, it.lifetimeMs);
    const reply = await this.run(model, "acquire", args);
    return parseAcquireReply(reply, cap);
  }

  async reconcile(model: string, handle: string, tokens: number): Promise<void> {
    await this.run(model, "reconcile", [handle, tokens]);
  }

  async observe(
    model: string,
    cap: WindowCapacity,
    remainingRequests?: number,
    remainingTokens?: number,
  ): Promise<void> {
    await this.run(model, "observe", [
      cap.requests,
      cap.tokens,
      cap.windowMs,
      remainingRequests ?? -1,
      remainingTokens ?? -1,
    ]);
  }

  async extend(model: string, handles: readonly string[], ms: number): Promise<void> {
    await this.run(model, "extend", [Math.ceil(ms), ...handles]);
  }

  async holdBack(model: string, ms: number): Promise<void> {
    await this.run(model, "hold", [Math.ceil(ms)]);
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  private async run(model: string, op: string, rest: (string | number)[]): Promise<unknown> {
    // The hash tag keeps a model's two keys in one slot, should this ever run on Redis Cluster.
    const base = `${this.prefix}{${model}}`;
    const args = [
      `${base}:log`,
      `${base}:state`,
      op,
      this.clock ? Math.floor(this.clock()) : "",
      KEY_TTL_MS,
      ...rest,
    ];
    try {
      return await this.redis.evalsha(SCRIPT_SHA, 2, ...args);
    } catch (err) {
      // NOSCRIPT is Redis' error code for "not cached yet" (first call, or after a restart/flush).
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return await this.redis.eval(SCRIPT, 2, ...args);
    }
  }
}

function parseAcquireReply(reply: unknown, cap: WindowCapacity): AcquireOutcome {
  if (!Array.isArray(reply) || reply.length < 3)
    throw new TypeError("unexpected reply from the budget script");
  const [retry, freeR, freeT, ...members] = reply as unknown[];
  if (typeof retry !== "number" || typeof freeR !== "number" || typeof freeT !== "number") {
    throw new TypeError("unexpected reply from the budget script");
  }
  const granted = members.map((m) => {
    if (typeof m !== "string") throw new TypeError("unexpected reply from the budget script");
    return m;
  });
  return {
    granted,
    retryMs: retry < 0 ? undefined : retry,
    freeRequests: cap.requests > 0 ? freeR : Number.POSITIVE_INFINITY,
    freeTokens: cap.tokens > 0 ? freeT : Number.POSITIVE_INFINITY,
  };
}
