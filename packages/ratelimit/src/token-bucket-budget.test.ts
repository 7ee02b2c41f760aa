import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bucketShape } from "./bucket-shape.ts";
import type { Grant } from "./budget-violations.ts";
import { budgetViolations } from "./budget-violations.ts";
import type { AcquireItem } from "./token-bucket-budget.ts";
import { RESERVATION_GRACE_MS, TokenBucketBudget } from "./token-bucket-budget.ts";

// 10 requests and 2000 tokens at once, refilled at 10 requests / 2000 tokens per 1020 ms (102 ms per request).
const shape600 = bucketShape({ rpm: 600, tpm: 120_000 }, 1000, 20);

const batch = (...tokens: number[]): AcquireItem[] =>
  tokens.map((t) => ({ tokens: t, interactive: false, headMs: 0 }));
/** A replica's queue head that has been head for `headMs`. */
const head = (headMs: number, tokens: number, interactive = false): AcquireItem => ({
  tokens,
  interactive,
  headMs,
});

describe("TokenBucketBudget", () => {
  it("starts full, grants a slice's worth at once, then one request per refill interval", () => {
    const b = new TokenBucketBudget();
    const first = b.acquire(0, shape600, batch(...Array(12).fill(10)), "a");
    expect(first).toMatchObject({ granted: 10, retryMs: 102, freeRequests: 0, freeTokens: 1900 });
    expect(b.acquire(101, shape600, batch(10), "a").granted).toBe(0);
    expect(b.acquire(102, shape600, batch(10, 10), "a")).toMatchObject({ granted: 1, retryMs: 102 });
  });

  it("takes requests and tokens together and stops at the first item that does not fit (FIFO)", () => {
    const b = new TokenBucketBudget();
    b.acquire(0, shape600, batch(1500), "a");
    const out = b.acquire(0, shape600, batch(400, 900, 50), "a");
    expect(out.granted).toBe(1); // the 50 waits behind the 900
    expect(out.retryMs).toBe(Math.ceil(800 / (2000 / 1020)));
    expect(out).toMatchObject({ freeTokens: 100, freeRequests: 8 });
  });

  it("puts back what a reconciled grant did not use, and takes what it used beyond its reservation", () => {
    const b = new TokenBucketBudget();
    b.acquire(0, shape600, batch(1800), "a");
    expect(b.acquire(0, shape600, batch(1000), "a").granted).toBe(0);
    b.giveBack(0, shape600, 0, 1200);
    expect(b.acquire(0, shape600, batch(1000), "a").granted).toBe(1);
    b.giveBack(0, shape600, 0, -500);
    expect(b.acquire(0, shape600, batch(0), "a").freeTokens).toBe(-100);
  });

  it("never holds more than its capacity, whatever is given back", () => {
    const b = new TokenBucketBudget();
    b.acquire(0, shape600, batch(100), "a");
    b.giveBack(10, shape600, 5, 10_000);
    expect(b.acquire(10, shape600, [], "a")).toMatchObject({ freeRequests: 10, freeTokens: 2000 });
  });

  it("lets a request bigger than the bucket go once it is full, and pays the debt back before the next", () => {
    const b = new TokenBucketBudget();
    b.acquire(0, shape600, batch(100), "a");
    expect(b.acquire(1, shape600, batch(5000), "a").granted).toBe(0);
    expect(b.acquire(60, shape600, batch(5000), "a").granted).toBe(1);
    const next = b.acquire(60, shape600, batch(10), "a");
    expect(next.retryMs).toBe(Math.ceil(3010 / (2000 / 1020)));
  });

  it("lets one request through at a time when the limit is under one per slice", () => {
    const slow = bucketShape({ rpm: 30, tpm: 0 }, 1000, 0); // 0.5 per slice: one every 2 s
    const b = new TokenBucketBudget();
    expect(b.acquire(0, slow, batch(0, 0), "a")).toMatchObject({ granted: 1, retryMs: 2000 });
    expect(b.acquire(2000, slow, batch(0, 0), "a")).toMatchObject({ granted: 1, retryMs: 2000 });
  });

  it("holds back every request until the hold ends; a shorter hold does not shorten it", () => {
    const b = new TokenBucketBudget();
    b.holdBack(0, shape600, 3000);
    b.holdBack(0, shape600, 1000);
    expect(b.acquire(500, shape600, batch(1), "a")).toMatchObject({ granted: 0, retryMs: 2500 });
    expect(b.acquire(3000, shape600, batch(1), "a").granted).toBe(1);
  });

  it("comes down to what the API says remains, never up", () => {
    const b = new TokenBucketBudget();
    b.acquire(0, shape600, batch(100, 100), "a");
    b.observe(0, shape600, 3, 50_000);
    expect(b.acquire(0, shape600, batch(...Array(5).fill(1)), "a")).toMatchObject({
      granted: 3,
      retryMs: 102,
    });
  });

  it("refills nothing when the clock steps back", () => {
    const b = new TokenBucketBudget();
    b.acquire(1000, shape600, batch(...Array(10).fill(1)), "a");
    expect(b.acquire(500, shape600, batch(1), "a").granted).toBe(0);
    expect(b.acquire(1102, shape600, batch(1), "a").granted).toBe(1);
  });

  it("lets a refused interactive request go before every replica's batch work and later interactive work", () => {
    const b = new TokenBucketBudget();
    b.acquire(0, shape600, batch(...Array(10).fill(1)), "a");
    expect(b.acquire(0, shape600, [head(0, 1, true)], "a").retryMs).toBe(102);
    // Once a request's worth has refilled, replica b's batch and its interactive head of less age still wait...
    const grace = { granted: 0, retryMs: RESERVATION_GRACE_MS };
    expect(b.acquire(102, shape600, [head(52, 1)], "b")).toMatchObject(grace);
    expect(b.acquire(102, shape600, [head(2, 1, true)], "b")).toMatchObject(grace);
    // ...for a's, which goes when a asks again; then b's turn comes with the next refill.
    expect(b.acquire(102, shape600, [head(102, 1, true)], "a").granted).toBe(1);
    expect(b.acquire(204, shape600, [head(104, 1, true), head(0, 1)], "b")).toMatchObject({
      granted: 1,
      retryMs: 102,
    });
  });

  it("does not let small requests from another replica starve a big one", () => {
    const b = new TokenBucketBudget();
    b.acquire(0, shape600, batch(1000), "b");
    const big = b.acquire(10, shape600, [head(0, 1900)], "a");
    expect(big.granted).toBe(0);
    // Without the reservation this 100 would fit (1,176 tokens are back by then) and the bucket
    // would never refill to 1,900 while b keeps asking with fresh heads.
    expect(b.acquire(100, shape600, [head(0, 100)], "b").granted).toBe(0);
    expect(b.acquire(150, shape600, [head(0, 100)], "b").granted).toBe(0);
    expect(b.acquire(10 + (big.retryMs ?? 0), shape600, [head(big.retryMs ?? 0, 1900)], "a").granted).toBe(1);
  });

  it("gives the reservation to the head that has waited longest, whichever replica holds it", () => {
    const b = new TokenBucketBudget();
    b.acquire(0, shape600, batch(1500), "c");
    expect(b.acquire(100, shape600, [head(0, 1000)], "a").granted).toBe(0); // a reserves (head since 100)
    const older = b.acquire(101, shape600, [head(6, 1200)], "b"); // b's head since 95: b reserves
    expect(older.granted).toBe(0);
    const ready = 101 + (older.retryMs ?? 0);
    // a's head would fit first (it is smaller) but waits for b's older one.
    expect(b.acquire(ready - 50, shape600, [head(ready - 150, 1000)], "a").granted).toBe(0);
    expect(b.acquire(ready, shape600, [head(ready - 95, 1200)], "b").granted).toBe(1);
  });

  it("serves a newcomer next, however deep and old the queue of the replica that was there first", () => {
    // Replica a has a backlog and the bucket to itself; b's head arrives while a holds the reservation.
    const b = new TokenBucketBudget();
    const deep = (headMs: number) => [head(headMs, 1), ...batch(...Array(20).fill(1))];
    expect(b.acquire(0, shape600, deep(5000), "a")).toMatchObject({ granted: 10, retryMs: 102 });
    expect(b.acquire(50, shape600, [head(0, 1)], "b")).toMatchObject({ granted: 0, retryMs: 102 });
    // a's next head is granted at its turn, and the turn passes to b (waiting longer than a's new head)...
    expect(b.acquire(102, shape600, deep(0), "a")).toMatchObject({ granted: 1, retryMs: 100 });
    expect(b.acquire(152, shape600, [head(102, 1)], "b")).toMatchObject({ granted: 0, retryMs: 52 });
    expect(b.acquire(202, shape600, deep(100), "a")).toMatchObject({ granted: 0, retryMs: 52 });
    expect(b.acquire(204, shape600, [head(154, 1)], "b")).toMatchObject({ granted: 1 });
    // ...and back to a, whose head has waited since 102: one grant each, in turn.
    expect(b.acquire(204, shape600, [head(0, 1)], "b")).toMatchObject({ granted: 0 });
    expect(b.acquire(254, shape600, deep(152), "a")).toMatchObject({ granted: 0, retryMs: 52 });
    expect(b.acquire(306, shape600, deep(204), "a")).toMatchObject({ granted: 1 });
  });

  it("passes the turn round every replica with work, oldest head first", () => {
    const b = new TokenBucketBudget();
    const order: string[] = [];
    // Three replicas, each with a deep queue; they ask whenever they are told to, sending their head's age.
    const replicas = ["a", "b", "c"].map((name) => ({ name, headSince: 0, at: 0 }));
    let now = 0;
    for (let step = 0; step < 400 && order.length < 60; step++) {
      const r = replicas.reduce((x, y) => (y.at < x.at ? y : x));
      now = r.at;
      const out = b.acquire(now, shape600, [head(now - r.headSince, 1), ...batch(1, 1, 1)], r.name);
      for (let i = 0; i < out.granted; i++) order.push(r.name);
      if (out.granted > 0) r.headSince = now;
      r.at = now + (out.retryMs ?? 1);
    }
    // After the first bucket (all a's), nobody gets a second grant before every other replica got one.
    const turns = order.slice(10);
    for (let i = 0; i + 3 <= turns.length; i += 3) expect(new Set(turns.slice(i, i + 3)).size).toBe(3);
  });

  it("a replica that gives up its work releases its claim at once, to the head waiting next", () => {
    const b = new TokenBucketBudget();
    b.acquire(0, shape600, batch(...Array(10).fill(1)), "c");
    expect(b.acquire(0, shape600, [head(0, 1)], "a").granted).toBe(0); // a reserves until 152
    expect(b.acquire(10, shape600, [head(0, 1)], "b")).toMatchObject({ granted: 0, retryMs: 142 });
    // a's waiters go (its partitions moved): an empty call ends its turn, and b holds the claim now.
    b.acquire(20, shape600, [], "a");
    expect(b.acquire(110, shape600, [head(0, 1)], "c")).toMatchObject({ granted: 0 });
    expect(b.acquire(110, shape600, [head(100, 1)], "b").granted).toBe(1);
  });

  it("lets a dead replica's claim block the others for no longer than its wait and two graces", () => {
    const b = new TokenBucketBudget();
    b.acquire(0, shape600, batch(...Array(10).fill(1)), "c");
    expect(b.acquire(0, shape600, [head(0, 1)], "dead")).toMatchObject({ retryMs: 102 });
    expect(b.acquire(60, shape600, [head(0, 1)], "b")).toMatchObject({ granted: 0, retryMs: 92 });
    // b is next; the dead replica never comes back for its turn.
    expect(b.acquire(152, shape600, [head(92, 1)], "b").granted).toBe(1);
    const c = new TokenBucketBudget();
    c.acquire(0, shape600, batch(...Array(10).fill(1)), "c");
    c.acquire(0, shape600, [head(0, 1)], "dead");
    expect(c.acquire(100, shape600, [head(0, 1)], "b").granted).toBe(0);
    expect(c.acquire(102 + 2 * RESERVATION_GRACE_MS, shape600, [head(0, 1)], "b").granted).toBe(1);
  });
});

// Mostly requests that fit the bucket, some bigger than it.
const tokenCount = fc.oneof(fc.integer({ min: 0, max: 800 }), fc.integer({ min: 0, max: 8000 }));

const op = fc.oneof(
  fc.record({
    kind: fc.constant("acquire" as const),
    dt: fc.integer({ min: 0, max: 400 }),
    owner: fc.constantFrom("a", "b", "c"),
    items: fc.array(fc.record({ tokens: tokenCount, interactive: fc.boolean(), headMs: fc.nat(3000) }), {
      minLength: 1,
      maxLength: 12,
    }),
  }),
  fc.record({
    kind: fc.constant("reconcile" as const),
    dt: fc.integer({ min: 0, max: 200 }),
    pick: fc.nat(),
    fraction: fc.double({ min: -0.2, max: 1, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant("observe" as const),
    dt: fc.integer({ min: 0, max: 200 }),
    requests: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
    tokens: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
  }),
  fc.record({ kind: fc.constant("hold" as const), dt: fc.integer({ min: 0, max: 200 }), ms: fc.nat(2000) }),
  fc.record({ kind: fc.constant("idle" as const), dt: fc.integer({ min: 0, max: 5000 }) }),
);

describe("TokenBucketBudget never grants more than the budget", () => {
  it("over any sequence of acquisitions, reconciliations, releases, observations, holds and idle time", () => {
    fc.assert(
      fc.property(
        fc.record({ rpm: fc.integer({ min: 0, max: 1200 }), tpm: fc.integer({ min: 0, max: 240_000 }) }),
        fc.constantFrom(250, 1000, 2000),
        fc.integer({ min: 0, max: 50 }),
        fc.array(op, { maxLength: 150 }),
        (limits, sliceMs, marginMs, ops) => {
          const shape = bucketShape(limits, sliceMs, marginMs);
          const b = new TokenBucketBudget();
          const grants: Grant[] = [];
          let now = 1_000_000;
          for (const o of ops) {
            now += o.dt;
            if (o.kind === "acquire") {
              const asked = o.items
                .filter((it) => shape.maxRequestTokens === 0 || it.tokens <= shape.maxRequestTokens)
                .map((it) => ({ tokens: it.tokens, interactive: it.interactive, headMs: it.headMs }));
              const out = b.acquire(now, shape, asked, o.owner);
              for (const it of asked.slice(0, out.granted)) grants.push({ at: now, tokens: it.tokens });
              if (out.granted < asked.length) expect(out.retryMs).toBeGreaterThan(0);
              else expect(out.retryMs).toBeUndefined();
            } else if (o.kind === "reconcile" && grants.length > 0) {
              const at = o.pick % grants.length;
              const g = grants[at] as Grant;
              if (o.fraction < 0) {
                // Released (never used): it no longer counts against the budget. The worker releases a grant the
                // moment it arrives for a job that lost its partition, never one granted earlier: releasing an
                // old grant would put back budget the refill has already returned.
                if (g.at === now) {
                  b.giveBack(now, shape, 1, g.tokens);
                  grants.splice(at, 1);
                }
              } else {
                // Downwards only: the API charging more than reserved is the one way past the budget.
                const actual = Math.floor(g.tokens * o.fraction);
                b.giveBack(now, shape, 0, g.tokens - actual);
                g.tokens = actual;
              }
            } else if (o.kind === "observe") {
              b.observe(now, shape, o.requests, o.tokens);
            } else if (o.kind === "hold") {
              b.holdBack(now, shape, o.ms);
            }
          }
          expect(budgetViolations(grants, shape)).toEqual([]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a steady stream uses the whole refill rate: nothing is left on the table", () => {
    const b = new TokenBucketBudget();
    let now = 0;
    let granted = 0;
    for (let i = 0; i < 5000; i++) {
      const out = b.acquire(now, shape600, batch(150), "a");
      granted += out.granted;
      now += out.retryMs ?? 0;
    }
    // 600 RPM over a 1020 ms refill = 588.2 per minute; one bucket of head start.
    const minutes = now / 60_000;
    expect(granted).toBeGreaterThanOrEqual(Math.floor(588.2 * minutes));
    expect(granted).toBeLessThanOrEqual(Math.ceil(588.3 * minutes) + 10);
  });
});
