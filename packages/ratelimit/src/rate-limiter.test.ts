import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { bucketShape } from "./bucket-shape.ts";
import { type BudgetStore, LocalBudgetStore } from "./budget-store.ts";
import { budgetViolations } from "./budget-violations.ts";
import type { Permit, Priority, RateLimiter, RateLimiterOptions } from "./index.ts";
import { createRateLimiter, RateLimiterClosedError, RequestTooLargeError } from "./index.ts";
import { QueuedRateLimiter } from "./rate-limiter.ts";

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
