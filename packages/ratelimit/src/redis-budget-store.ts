import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import type { BucketShape } from "./bucket-shape.ts";
import type { BudgetStore } from "./budget-store.ts";
import type { AcquireItem, AcquireOutcome } from "./token-bucket-budget.ts";
import { RESERVATION_GRACE_MS } from "./token-bucket-budget.ts";

const SCRIPT = readFileSync(new URL("./token-bucket-budget.lua", import.meta.url), "utf8");
const SCRIPT_SHA = createHash("sha1").update(SCRIPT).digest("hex");
/** An idle model's state vanishes after this; by then its buckets would be full anyway. */
const KEY_TTL_MS = 120_000;

export interface RedisBudgetStoreOptions {
  url: string;
  keyPrefix?: string;
  /** When set, the budget's clock; otherwise the Redis server's TIME. */
  clock?: () => number;
  /** Identifies this replica in the shared reservation; random by default. */
  owner?: string;
  /** Connection errors (Redis down, reconnecting). */
  onError?: (err: unknown) => void;
}

/** The shared budget: every operation is one atomic call of token-bucket-budget.lua on one key per model. */
export class RedisBudgetStore implements BudgetStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly clock: (() => number) | undefined;
  private readonly owner: string;

  private constructor(redis: Redis, opts: RedisBudgetStoreOptions) {
    this.redis = redis;
    this.prefix = opts.keyPrefix ?? "chatq:ratelimit:";
    this.clock = opts.clock;
    this.owner = opts.owner ?? randomUUID();
  }

  static async connect(opts: RedisBudgetStoreOptions): Promise<RedisBudgetStore> {
    // Commands wait through a reconnect instead of failing after 20 tries: the limiter keeps its
    // waiters queued and retries, and close() ends it all.
    const redis = new Redis(opts.url, { lazyConnect: true, maxRetriesPerRequest: null });
    // Without a listener ioredis prints "Unhandled error event" on every failed reconnect; the caller's onError
    // hears about failing budget calls already, so connection errors only go there too.
    redis.on("error", (err: unknown) => opts.onError?.(err));
    await redis.connect();
    return new RedisBudgetStore(redis, opts);
  }

  async acquire(model: string, shape: BucketShape, items: readonly AcquireItem[]): Promise<AcquireOutcome> {
    const args: (string | number)[] = [this.owner, RESERVATION_GRACE_MS];
    for (const it of items) args.push(it.tokens, it.interactive ? 1 : 0, it.headMs);
    const reply = await this.run(model, "acquire", shape, args);
    if (!Array.isArray(reply) || reply.length !== 4 || !reply.every((x) => typeof x === "number")) {
      throw new TypeError("unexpected reply from the budget script");
    }
    const [granted, retry, freeR, freeT] = reply as [number, number, number, number];
    return {
      granted,
      retryMs: retry < 0 ? undefined : retry,
      freeRequests: shape.requests ? freeR : Number.POSITIVE_INFINITY,
      freeTokens: shape.tokens ? freeT : Number.POSITIVE_INFINITY,
    };
  }

  async giveBack(model: string, shape: BucketShape, requests: number, tokens: number): Promise<void> {
    await this.run(model, "giveBack", shape, [requests, tokens]);
  }

  async observe(
    model: string,
    shape: BucketShape,
    remainingRequests?: number,
    remainingTokens?: number,
  ): Promise<void> {
    await this.run(model, "observe", shape, [remainingRequests ?? -1, remainingTokens ?? -1]);
  }

  async holdBack(model: string, shape: BucketShape, ms: number): Promise<void> {
    await this.run(model, "hold", shape, [ms]);
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  private async run(
    model: string,
    op: string,
    shape: BucketShape,
    rest: (string | number)[],
  ): Promise<unknown> {
    const args = [
      // The hash tag keeps a model in one slot, should this ever run on Redis Cluster.
      `${this.prefix}{${model}}`,
      op,
      this.clock ? this.clock() : "",
      KEY_TTL_MS,
      // Every op refills first, so every op needs the shape.
      shape.requests?.capacity ?? 0,
      shape.requests?.perMs ?? 0,
      shape.tokens?.capacity ?? 0,
      shape.tokens?.perMs ?? 0,
      ...rest,
    ];
    try {
      return await this.redis.evalsha(SCRIPT_SHA, 1, ...args);
    } catch (err) {
      // NOSCRIPT is Redis' error code for "not cached yet" (first call, or after a restart/flush).
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return await this.redis.eval(SCRIPT, 1, ...args);
    }
  }
}
