import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AcquireItem } from "./sliding-window-budget.ts";
import { PRIORITY_GRACE_MS, SlidingWindowBudget } from "./sliding-window-budget.ts";
import type { WindowCapacity } from "./window-capacity.ts";
import { grantLifetimeMs, windowCapacity } from "./window-capacity.ts";

const cap600 = windowCapacity({ rpm: 600, tpm: 120_000 }, 1000, 20); // 10 requests, 2000 tokens per 1020 ms

function items(cap: WindowCapacity, ...tokens: number[]): AcquireItem[] {
  return tokens.map((t) => ({ tokens: t, interactive: false, lifetimeMs: grantLifetimeMs(cap, t) }));
}

describe("SlidingWindowBudget", () => {
  it("grants up to a window's requests, then says when the oldest grant leaves the window", () => {
    const b = new SlidingWindowBudget();
    const first = b.acquire(0, cap600, items(cap600, ...Array(4).fill(10)), "a");
    expect(first.granted).toHaveLength(4);
    const rest = b.acquire(300, cap600, items(cap600, ...Array(8).fill(10)), "a");
    expect(rest.granted).toHaveLength(6);
    expect(rest.retryMs).toBe(1020 - 300);
    expect(b.acquire(1019, cap600, items(cap600, 10), "a").granted).toHaveLength(0);
    expect(b.acquire(1020, cap600, items(cap600, 10, 10, 10, 10, 10), "a").granted).toHaveLength(4);
  });

  it("holds tokens and requests together and stops at the first request that does not fit (FIFO)", () => {
    const b = new SlidingWindowBudget();
    b.acquire(0, cap600, items(cap600, 1500), "a");
    const out = b.acquire(100, cap600, items(cap600, 400, 900, 50), "a");
    expect(out.granted).toHaveLength(1); // the 50 waits behind the 900
    expect(out.retryMs).toBe(920);
    expect(out.freeTokens).toBe(100);
    expect(out.freeRequests).toBe(8);
  });

  it("waits only as long as it takes enough tokens to expire", () => {
    const b = new SlidingWindowBudget();
    b.acquire(0, cap600, items(cap600, 1000), "a");
    b.acquire(200, cap600, items(cap600, 600), "a");
    b.acquire(400, cap600, items(cap600, 400), "a");
    expect(b.acquire(500, cap600, items(cap600, 1200), "a").retryMs).toBe(1220 - 500);
  });

  it("gives tokens back, and takes extra, on reconcile", () => {
    const b = new SlidingWindowBudget();
    const [h] = b.acquire(0, cap600, items(cap600, 1800), "a").granted;
    expect(b.acquire(1, cap600, items(cap600, 1000), "a").granted).toHaveLength(0);
    b.reconcile(2, h as string, 700);
    expect(b.acquire(3, cap600, items(cap600, 1000), "a").granted).toHaveLength(1);
    b.reconcile(4, h as string, 1200); // the API charged more than we reserved
    expect(b.acquire(5, cap600, items(cap600, 1), "a").freeTokens).toBeLessThan(0);
  });

  it("releasing a grant frees its request and tokens", () => {
    const b = new SlidingWindowBudget();
    const granted = b.acquire(0, cap600, items(cap600, ...Array(10).fill(1)), "a").granted;
    b.reconcile(1, granted[3] as string, -1);
    expect(b.acquire(2, cap600, items(cap600, 1, 1), "a").granted).toHaveLength(1);
  });

  it("lets a request bigger than a slice's tokens go alone, and keeps it for its minute-rate share", () => {
    const b = new SlidingWindowBudget();
    b.acquire(0, cap600, items(cap600, 100), "a");
    const big = b.acquire(10, cap600, items(cap600, 5000), "a");
    expect(big.granted).toHaveLength(0);
    expect(big.retryMs).toBe(1010);
    expect(b.acquire(1020, cap600, items(cap600, 5000), "a").granted).toHaveLength(1);
    const after = b.acquire(1030, cap600, items(cap600, 10), "a");
    expect(after.retryMs).toBe(1020 + 2500 + 20 - 1030);
  });

  it("holds back every request until the hold ends", () => {
    const b = new SlidingWindowBudget();
    b.holdBack(0, 3000);
    b.holdBack(0, 1000); // a shorter hold does not shorten it
    const out = b.acquire(500, cap600, items(cap600, 1), "a");
    expect(out).toMatchObject({ granted: [], retryMs: 2500 });
    expect(b.acquire(3000, cap600, items(cap600, 1), "a").granted).toHaveLength(1);
  });

  it("lowers free capacity to what the API says remains, never raises it", () => {
    const b = new SlidingWindowBudget();
    b.acquire(0, cap600, items(cap600, 100, 100), "a");
    b.observe(10, cap600, 3, 5000);
    const out = b.acquire(20, cap600, items(cap600, ...Array(5).fill(1)), "a");
    expect(out.granted).toHaveLength(3);
    expect(out.retryMs).toBe(1000); // the two grants at 0 leave the window at 1020
  });

  it("refuses other replicas' batch work while an interactive request waits, until shortly after its turn", () => {
    const b = new SlidingWindowBudget();
    b.acquire(0, cap600, items(cap600, ...Array(10).fill(1)), "a");
    const interactive: AcquireItem = { tokens: 1, interactive: true, lifetimeMs: 1020 };
    expect(b.acquire(100, cap600, [interactive], "a").retryMs).toBe(920);
    // Replica b's batch work waits for a's interactive request even once capacity returns...
    expect(b.acquire(1020, cap600, items(cap600, 1), "b")).toMatchObject({
      granted: [],
      retryMs: PRIORITY_GRACE_MS,
    });
    // ...b's own interactive work does not...
    expect(b.acquire(1020, cap600, [interactive], "b").granted).toHaveLength(1);
    // ...and once a's interactive request is served and a sends batch work again, b's batch goes.
    expect(b.acquire(1021, cap600, [interactive], "a").granted).toHaveLength(1);
    b.acquire(1022, cap600, items(cap600, 1), "a");
    expect(b.acquire(1023, cap600, items(cap600, 1), "b").granted).toHaveLength(1);
  });
});

interface Grant {
  at: number;
  tokens: number;
  handle: string;
}

/**
 * Every interval of one window holds at most the window's capacity (a request bigger than a
 * slice's tokens only ever alone); every minute at most the minute's limits plus one window's
 * burst (or one oversized request).
 */
function checkBudget(grants: Grant[], cap: WindowCapacity, limits: { rpm: number; tpm: number }) {
  for (const g of grants) {
    const inWindow = grants.filter((x) => x.at >= g.at && x.at < g.at + cap.windowMs);
    if (cap.requests > 0) expect(inWindow.length).toBeLessThanOrEqual(cap.requests);
    if (cap.tokens > 0) {
      const tokens = inWindow.reduce((n, x) => n + x.tokens, 0);
      const oversized = inWindow.filter((x) => x.tokens > cap.tokens);
      if (oversized.length > 0) {
        expect(inWindow.filter((x) => x.tokens > 0)).toHaveLength(1);
      } else {
        expect(tokens).toBeLessThanOrEqual(cap.tokens);
      }
    }
    const inMinute = grants.filter((x) => x.at >= g.at && x.at < g.at + 60_000);
    const biggest = Math.max(cap.tokens, ...inMinute.map((x) => x.tokens));
    if (limits.rpm > 0) expect(inMinute.length).toBeLessThanOrEqual(limits.rpm + cap.requests);
    if (limits.tpm > 0) {
      expect(inMinute.reduce((n, x) => n + x.tokens, 0)).toBeLessThanOrEqual(limits.tpm + biggest);
    }
  }
}

// Mostly requests that fit a slice, some bigger than a slice's tokens, a few bigger than the minute.
const tokenCount = fc.oneof(fc.integer({ min: 0, max: 800 }), fc.integer({ min: 0, max: 8000 }));

const op = fc.oneof(
  fc.record({
    kind: fc.constant("acquire" as const),
    dt: fc.integer({ min: 0, max: 700 }),
    owner: fc.constantFrom("a", "b"),
    items: fc.array(fc.record({ tokens: tokenCount, interactive: fc.boolean() }), {
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
);

describe("SlidingWindowBudget never grants more than the budget", () => {
  it("over any sequence of acquisitions, reconciliations, observations and holds", () => {
    fc.assert(
      fc.property(
        fc.record({ rpm: fc.integer({ min: 0, max: 1200 }), tpm: fc.integer({ min: 0, max: 240_000 }) }),
        fc.constantFrom(250, 1000, 2000),
        fc.integer({ min: 0, max: 50 }),
        fc.array(op, { maxLength: 120 }),
        (limits, sliceMs, marginMs, ops) => {
          const cap = windowCapacity(limits, sliceMs, marginMs);
          const b = new SlidingWindowBudget();
          const grants: Grant[] = [];
          let now = 1_000_000;
          for (const o of ops) {
            now += o.dt;
            if (o.kind === "acquire") {
              const asked = o.items
                .filter((it) => cap.maxRequestTokens === 0 || it.tokens <= cap.maxRequestTokens)
                .map((it) => ({ ...it, lifetimeMs: grantLifetimeMs(cap, it.tokens) }));
              const out = b.acquire(now, cap, asked, o.owner);
              out.granted.forEach((handle, i) => {
                grants.push({ at: now, tokens: (asked[i] as AcquireItem).tokens, handle });
              });
              if (out.granted.length < asked.length) expect(out.retryMs).toBeGreaterThan(0);
            } else if (o.kind === "reconcile" && grants.length > 0) {
              // Only downwards: the API charging more than reserved is the one way past the budget.
              const at = o.pick % grants.length;
              const g = grants[at] as Grant;
              if (o.fraction < 0) {
                // Released: never used, so it no longer counts against the budget.
                b.reconcile(now, g.handle, -1);
                grants.splice(at, 1);
              } else {
                g.tokens = Math.floor(g.tokens * o.fraction);
                b.reconcile(now, g.handle, g.tokens);
              }
            } else if (o.kind === "observe") {
              b.observe(now, cap, o.requests, o.tokens);
            } else if (o.kind === "hold") {
              b.holdBack(now, o.ms);
            }
          }
          checkBudget(grants, cap, limits);
        },
      ),
      { numRuns: 500 },
    );
  });
});
