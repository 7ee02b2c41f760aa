import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { bucketShape } from "./bucket-shape.ts";
import { type BudgetStore, LocalBudgetStore } from "./budget-store.ts";
import { budgetViolations } from "./budget-violations.ts";
import type { Permit, Priority, RateLimiter, RateLimiterOptions } from "./index.ts";
import { createRateLimiter, RateLimiterClosedError, RequestTooLargeError } from "./index.ts";
import { QueuedRateLimiter } from "./rate-limiter.ts";
import type { TokenBucketBudget } from "./token-bucket-budget.ts";

// Local mode, fake timers: the limiter's clock and its sleeps run on vitest's clock.
beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

// Buckets of 10 requests and 2000 tokens, refilled over 1020 ms (one request per 102 ms).
const limits600 = { default: { rpm: 600, tpm: 120_000 } };

function limiter(opts: Partial<RateLimiterOptions> = {}): Promise<RateLimiter> {
  return createRateLimiter({ limits: limits600, clock: () => Date.now(), ...opts });
}

/** Starts an acquisition and records when (fake time) it resolves, and in which order. */
function track(rl: RateLimiter, order: string[], name: string, priority: Priority, tokens = 1) {
  const result: { permit?: Permit; at?: number; error?: unknown } = {};
  rl.acquire({ model: "m", tokens, priority }).then(
    (p) => {
      result.permit = p;
      result.at = Date.now();
      order.push(name);
    },
    (err: unknown) => {
      result.error = err;
    },
  );
  return result;
}

describe("RateLimiter (local mode)", () => {
  it("lets interactive work overtake a queued batch backlog, FIFO within each priority", async () => {
    const rl = await limiter();
    const order: string[] = [];
    for (let i = 1; i <= 25; i++) track(rl, order, `b${i}`, "batch");
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 1; i <= 3; i++) track(rl, order, `i${i}`, "interactive");
    await vi.advanceTimersByTimeAsync(5000);
    expect(order.slice(0, 16)).toEqual([
      ...["b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10"],
      ...["i1", "i2", "i3", "b11", "b12", "b13"],
    ]);
    expect(order).toHaveLength(28);
  });

  it("release gives a grant that was never used back, request and tokens, at once", async () => {
    const rl = await limiter();
    const permits: Permit[] = [];
    for (let i = 0; i < 10; i++)
      permits.push(await rl.acquire({ model: "m", tokens: 190, priority: "batch" }));
    const order: string[] = [];
    track(rl, order, "next", "batch", 100);
    await vi.advanceTimersByTimeAsync(10);
    expect(order).toEqual([]);
    permits[0]?.release();
    permits[0]?.release(); // once only
    permits[0]?.reconcile(0); // a no-op once released
    await vi.advanceTimersByTimeAsync(1);
    expect(order).toEqual(["next"]);
    // Only the one slot came back: the next request waits for the refill.
    track(rl, order, "after", "batch", 1);
    await vi.advanceTimersByTimeAsync(50);
    expect(order).toEqual(["next"]);
  });

  it("reconcile gives unused tokens back to the budget at once", async () => {
    const rl = await limiter();
    const order: string[] = [];
    const first = track(rl, order, "first", "batch", 1800);
    const second = track(rl, order, "second", "batch", 1000);
    await vi.advanceTimersByTimeAsync(10);
    expect(order).toEqual(["first"]);
    first.permit?.reconcile(600);
    await vi.advanceTimersByTimeAsync(1);
    expect(order).toEqual(["first", "second"]);
    expect(second.permit?.waitedMs).toBeLessThan(100);
  });

  it("refuses a request bigger than the model's whole TPM at once, with a typed error", async () => {
    const rl = await limiter();
    const err = await rl.acquire({ model: "m", tokens: 120_001, priority: "batch" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestTooLargeError);
    expect(err).toMatchObject({ code: "RATE_LIMIT_REQUEST_TOO_LARGE", retryable: false, tokens: 120_001 });
    // Bigger than a slice but within the minute: it goes, alone.
    await expect(rl.acquire({ model: "m", tokens: 50_000, priority: "batch" })).resolves.toMatchObject({
      tokens: 50_000,
    });
  });

  it("an aborted wait rejects with an AbortError and leaves its place in the budget to others", async () => {
    const rl = await limiter();
    for (let i = 0; i < 10; i++) await rl.acquire({ model: "m", tokens: 1, priority: "batch" });
    const ac = new AbortController();
    const aborted = rl
      .acquire({ model: "m", tokens: 1, priority: "batch", signal: ac.signal })
      .catch((e) => e);
    const order: string[] = [];
    track(rl, order, "next", "batch");
    await vi.advanceTimersByTimeAsync(100);
    expect(rl.queued()).toBe(2);
    ac.abort();
    expect(await aborted).toMatchObject({ name: "AbortError", code: "RATE_LIMIT_ABORTED" });
    expect(rl.queued()).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(order).toEqual(["next"]);
    await expect(
      rl.acquire({ model: "m", tokens: 1, priority: "batch", signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ code: "RATE_LIMIT_ABORTED" });
  });

  it("holdBack pauses the model until the hold ends", async () => {
    const rl = await limiter();
    rl.holdBack("m", 3000);
    const order: string[] = [];
    const held = track(rl, order, "held", "interactive");
    track(rl, order, "other-model", "interactive").permit;
    await rl.acquire({ model: "other", tokens: 1, priority: "batch" });
    await vi.advanceTimersByTimeAsync(2999);
    expect(order).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(order[0]).toBe("held");
    expect(held.permit?.waitedMs).toBe(3000);
  });

  it("lowers its free capacity when the API says less remains", async () => {
    const rl = await limiter();
    await rl.acquire({ model: "m", tokens: 1, priority: "batch" });
    await vi.advanceTimersByTimeAsync(10);
    rl.observe("m", { remainingRequests: 0, remainingTokens: 100_000 });
    const order: string[] = [];
    const r = track(rl, order, "after", "batch");
    await vi.advanceTimersByTimeAsync(101);
    expect(order).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(order).toEqual(["after"]);
    expect(r.permit?.waitedMs).toBe(102); // one request's refill, from empty
  });

  it("reports saturation at maxQueued and calls onDrain when it drops below", async () => {
    const rl = await limiter({ maxQueued: 3 });
    const drained = vi.fn();
    rl.onDrain(drained);
    for (let i = 0; i < 10; i++) await rl.acquire({ model: "m", tokens: 1, priority: "batch" });
    const order: string[] = [];
    for (let i = 0; i < 3; i++) track(rl, order, `w${i}`, i === 0 ? "interactive" : "batch");
    expect(rl.isSaturated()).toBe(true);
    expect(rl.snapshot()).toEqual([
      { model: "m", priority: "interactive", queued: 1 },
      { model: "m", priority: "batch", queued: 2 },
    ]);
    expect(drained).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(102);
    expect(rl.isSaturated()).toBe(false);
    expect(drained).toHaveBeenCalledTimes(1);
  });

  it("close rejects every waiter with a retryable error", async () => {
    const rl = await limiter();
    for (let i = 0; i < 10; i++) await rl.acquire({ model: "m", tokens: 1, priority: "batch" });
    const waiting = rl.acquire({ model: "m", tokens: 1, priority: "batch" }).catch((e: unknown) => e);
    await rl.close();
    expect(await waiting).toBeInstanceOf(RateLimiterClosedError);
    expect(await waiting).toMatchObject({ code: "RATE_LIMITER_CLOSED", retryable: true });
    await expect(rl.acquire({ model: "m", tokens: 1, priority: "batch" })).rejects.toBeInstanceOf(
      RateLimiterClosedError,
    );
  });
});

describe("RateLimiter when its budget store is away", () => {
  it("after an outage that held a budget call for 10 s, the next requests go at once, not 10 s later", async () => {
    // A store that sits on calls while "down" and decides them when it is back, as ioredis does with commands
    // queued offline: the reply comes 10 s after the call, though the decision is taken at the end.
    const local = new LocalBudgetStore(() => Date.now());
    let down = true;
    let up: () => void = () => {};
    const back = new Promise<void>((r) => {
      up = r;
    });
    const store: BudgetStore = {
      acquire: async (...args) => {
        if (down) await back;
        return local.acquire(...args);
      },
      giveBack: (...args) => local.giveBack(...args),
      observe: (...args) => local.observe(...args),
      holdBack: (...args) => local.holdBack(...args),
      close: () => local.close(),
    };
    const rl = new QueuedRateLimiter(store, {
      limits: limits600,
      burstSliceMs: 1000,
      jitterMarginMs: 20,
      maxQueued: 1000,
      clock: () => Date.now(),
      onError: () => {},
    });
    const order: string[] = [];
    track(rl, order, "during", "interactive");
    await vi.advanceTimersByTimeAsync(10_000);
    down = false;
    up();
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(["during"]);
    // The bucket (10 requests) refilled while the store was away: the next ones fit in what is left of it.
    const after = Array.from({ length: 5 }, (_, i) => track(rl, order, `after-${i}`, "interactive"));
    await vi.advanceTimersByTimeAsync(10);
    expect(after.map((a) => a.permit?.waitedMs)).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("RateLimiter (local mode) under any arrival pattern", () => {
  it("never exceeds the budget, serves interactive first and each priority in order, and serves everyone", async () => {
    const arrival = fc.record({
      dt: fc.integer({ min: 0, max: 300 }),
      tokens: fc.integer({ min: 0, max: 1500 }),
      interactive: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.record({ rpm: fc.integer({ min: 60, max: 1200 }), tpm: fc.integer({ min: 6000, max: 200_000 }) }),
        fc.array(arrival, { minLength: 1, maxLength: 60 }),
        async (limits, arrivals) => {
          vi.setSystemTime(1_000_000);
          const rl = await createRateLimiter({ limits: { default: limits }, clock: () => Date.now() });
          const granted: { i: number; arrived: number; at: number; tokens: number; interactive: boolean }[] =
            [];
          const pending: Promise<unknown>[] = [];
          let i = 0;
          for (const a of arrivals) {
            await vi.advanceTimersByTimeAsync(a.dt);
            const n = i++;
            const arrived = Date.now();
            const priority: Priority = a.interactive ? "interactive" : "batch";
            pending.push(
              rl.acquire({ model: "m", tokens: a.tokens, priority }).then(
                () => {
                  granted.push({
                    i: n,
                    arrived,
                    at: Date.now(),
                    tokens: a.tokens,
                    interactive: a.interactive,
                  });
                },
                () => {},
              ),
            );
          }
          // Long enough for everything that fits in the minute's budget to be served.
          await vi.advanceTimersByTimeAsync(120_000);
          await Promise.all(pending);
          const tooLarge = arrivals.filter((a) => a.tokens > limits.tpm).length;
          expect(granted).toHaveLength(arrivals.length - tooLarge);

          expect(budgetViolations(granted, bucketShape(limits, 1000, 20))).toEqual([]);
          for (const a of granted) {
            for (const b of granted) {
              // Same priority: first come, first served. Interactive waiting: no later batch goes first.
              if (a.interactive === b.interactive && a.i < b.i) expect(a.at).toBeLessThanOrEqual(b.at);
              // (Queued before it, not merely in the same millisecond: a batch already served may be first.)
              if (a.interactive && !b.interactive && a.i < b.i) expect(a.at).toBeLessThanOrEqual(b.at);
            }
          }
          await rl.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});

/**
 * Replicas in one process over one shared budget, deciding exactly as replicas sharing Redis do (the budget is
 * the Lua script's twin): each is a QueuedRateLimiter with its own owner name, on vitest's clock.
 */
function replicaGroup(limits: { rpm: number; tpm: number }) {
  const budgets = new Map<string, TokenBucketBudget>();
  const errors: unknown[] = [];
  let n = 0;
  return {
    errors,
    join(): QueuedRateLimiter {
      const clock = () => Date.now();
      const store = new LocalBudgetStore(clock, { owner: `r${n++}`, budgets });
      return new QueuedRateLimiter(store, {
        limits: { default: limits },
        burstSliceMs: 1000,
        jitterMarginMs: 20,
        maxQueued: 1_000_000,
        clock,
        onError: (err) => errors.push(err),
      });
    },
  };
}

describe("RateLimiter replicas sharing one budget", () => {
  it("serves a replica that joins behind another's deep, old backlog within a grant or two", async () => {
    const group = replicaGroup({ rpm: 600, tpm: 0 });
    const [old, fresh] = [group.join(), group.join()];
    const order: string[] = [];
    for (let i = 0; i < 300; i++) track(old, order, "old", "batch");
    await vi.advanceTimersByTimeAsync(5000); // the backlog has waited 5 s; the bucket is empty
    const before = order.length;
    for (let i = 0; i < 5; i++) track(fresh, order, "fresh", "batch");
    await vi.advanceTimersByTimeAsync(3000);
    // Before: FIFO by enqueue time served all 300 older waiters first (30 s at 600 RPM). Now they take turns.
    expect(order.slice(before, before + 10)).toEqual([
      ...["old", "fresh", "old", "fresh", "old", "fresh", "old", "fresh", "old", "fresh"],
    ]);
    expect(group.errors).toEqual([]);
  });

  // A big head waits ~918 ms for its tokens and holds the claim meanwhile; when it goes, the claim must go too.
  for (const how of ["aborts its waits (its partitions moved)", "closes"] as const) {
    it(`a replica that ${how} gives up its claim at once, so others need not wait for it to expire`, async () => {
      const group = replicaGroup({ rpm: 600, tpm: 120_000 });
      const [leaving, other] = [group.join(), group.join()];
      const ac = new AbortController();
      await leaving.acquire({ model: "m", tokens: 1900, priority: "batch" });
      const gone = leaving
        .acquire({ model: "m", tokens: 1900, priority: "batch", signal: ac.signal })
        .catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(100);
      if (how === "closes") await leaving.close();
      else ac.abort();
      expect(await gone).toMatchObject({ retryable: how === "closes" });
      await vi.advanceTimersByTimeAsync(100);
      const order: string[] = [];
      const small = track(other, order, "small", "batch", 10);
      await vi.advanceTimersByTimeAsync(0);
      // It fits (~490 tokens are back): it goes now, not when the big head's claim would have ended (~970 ms).
      expect(order).toEqual(["small"]);
      expect(small.permit?.waitedMs).toBe(0);
      expect(group.errors).toEqual([]);
    });
  }
});

/** A replica's life in the property below: it joins (queues work), aborts its waits, or leaves. */
const replicaEvent = fc.record({
  dt: fc.integer({ min: 0, max: 600 }),
  replica: fc.integer({ min: 0, max: 3 }),
  kind: fc.constantFrom("enqueue", "enqueue", "enqueue", "abort", "leave"),
  count: fc.integer({ min: 1, max: 15 }),
  tokens: fc.integer({ min: 0, max: 400 }),
  interactive: fc.boolean(),
});

type ReplicaEvent = typeof replicaEvent extends fc.Arbitrary<infer T> ? T : never;

interface GroupRun {
  grants: { owner: string; at: number; tokens: number; interactive: boolean }[];
  /** Grants to others while a replica's current head waited, at each of its grants: the fairness figure. */
  othersBeforeEachGrant: number[];
  /** Batch grants made while an interactive wait somewhere was older than them. */
  batchOverWaitingInteractive: number;
  unserved: number;
  errors: unknown[];
}

/**
 * Plays replica events against a group sharing one budget and records, in the order things happened, every
 * grant and how many grants other replicas got while each replica's head waited.
 */
async function playGroup(limits: { rpm: number; tpm: number }, events: ReplicaEvent[]): Promise<GroupRun> {
  vi.setSystemTime(1_000_000);
  const group = replicaGroup(limits);
  const slots: ({ rl: QueuedRateLimiter; owner: string; aborts: AbortController } | undefined)[] = [];
  const waiting = new Map<string, number>();
  const othersSinceHead = new Map<string, number>();
  /** Interactive items waiting now, with the time they were queued. */
  const interactiveWaiting = new Set<{ at: number }>();
  const run: GroupRun = {
    grants: [],
    othersBeforeEachGrant: [],
    batchOverWaitingInteractive: 0,
    unserved: 0,
    errors: group.errors,
  };
  const pending: Promise<void>[] = [];
  let owners = 0;
  for (const e of events) {
    await vi.advanceTimersByTimeAsync(e.dt);
    let slot = slots[e.replica];
    if (e.kind === "leave" || e.kind === "abort") {
      if (slot === undefined) continue;
      slot.aborts.abort();
      slot.aborts = new AbortController();
      if (e.kind === "leave") {
        await slot.rl.close();
        slots[e.replica] = undefined;
      }
      continue;
    }
    if (slot === undefined) {
      slot = { rl: group.join(), owner: `o${owners++}`, aborts: new AbortController() };
      slots[e.replica] = slot;
    }
    const { rl, owner } = slot;
    const signal = slot.aborts.signal;
    for (let i = 0; i < e.count; i++) {
      if ((waiting.get(owner) ?? 0) === 0) othersSinceHead.set(owner, 0);
      waiting.set(owner, (waiting.get(owner) ?? 0) + 1);
      const queuedAt = { at: Date.now() };
      if (e.interactive) interactiveWaiting.add(queuedAt);
      const done = () => {
        waiting.set(owner, (waiting.get(owner) ?? 1) - 1);
        interactiveWaiting.delete(queuedAt);
      };
      pending.push(
        rl
          .acquire({
            model: "m",
            tokens: e.tokens,
            priority: e.interactive ? "interactive" : "batch",
            signal,
          })
          .then(
            () => {
              const at = Date.now();
              done();
              if (!e.interactive && [...interactiveWaiting].some((w) => w.at < at))
                run.batchOverWaitingInteractive++;
              run.grants.push({ owner, at, tokens: e.tokens, interactive: e.interactive });
              run.othersBeforeEachGrant.push(othersSinceHead.get(owner) ?? 0);
              othersSinceHead.set(owner, 0);
              for (const [other, n] of waiting) {
                if (other !== owner && n > 0)
                  othersSinceHead.set(other, (othersSinceHead.get(other) ?? 0) + 1);
              }
            },
            (err: unknown) => {
              done();
              if (
                !(err instanceof Error) ||
                !["RATE_LIMIT_ABORTED", "RATE_LIMITER_CLOSED"].includes((err as { code?: string }).code ?? "")
              ) {
                run.errors.push(err);
              }
            },
          ),
      );
    }
  }
  // Long enough for everything still queued to be served.
  await vi.advanceTimersByTimeAsync(600_000);
  await Promise.all(pending);
  run.unserved = [...waiting.values()].reduce((a, b) => a + b, 0);
  for (const slot of slots) await slot?.rl.close();
  return run;
}

describe("RateLimiter replicas joining, leaving and aborting at any moment", () => {
  const limitsArb = fc.record({
    rpm: fc.integer({ min: 60, max: 1200 }),
    tpm: fc.integer({ min: 6000, max: 200_000 }),
  });

  it("serve every replica with queued work within a bounded number of grants, within the budget", async () => {
    await fc.assert(
      fc.asyncProperty(
        limitsArb,
        fc.array(replicaEvent, { minLength: 1, maxLength: 40 }),
        async (limits, events) => {
          const run = await playGroup(
            limits,
            events.map((e) => ({ ...e, interactive: false })),
          );
          expect(run.errors).toEqual([]);
          expect(run.unserved).toBe(0);
          expect(budgetViolations(run.grants, bucketShape(limits, 1000, 20))).toEqual([]);
          // One turn each: while a replica's head waits, each of the (at most 3) others gets at most one call's
          // grants, which is at most a bucket. (FIFO by enqueue time let one replica's whole backlog go first.)
          const bucket = Math.ceil(limits.rpm / 60);
          expect(Math.max(0, ...run.othersBeforeEachGrant)).toBeLessThanOrEqual(3 * (bucket + 1));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("still serve interactive work anywhere before batch work everywhere", async () => {
    await fc.assert(
      fc.asyncProperty(
        limitsArb,
        fc.array(replicaEvent, { minLength: 1, maxLength: 40 }),
        async (limits, events) => {
          const run = await playGroup(limits, events);
          expect(run.errors).toEqual([]);
          expect(run.unserved).toBe(0);
          expect(budgetViolations(run.grants, bucketShape(limits, 1000, 20))).toEqual([]);
          expect(run.batchOverWaitingInteractive).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
