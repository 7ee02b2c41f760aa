/**
 * Checks that token-bucket-budget.lua (Redis mode) and TokenBucketBudget (local mode) decide alike:
 * random sequences of acquisitions (some empty: a replica giving up its claim), give-backs, observations
 * and holds from three replicas run on both, on one injected clock, and every acquisition must get the
 * same answer from each.
 *
 *   pnpm exec node packages/ratelimit/tools/budget-twins.ts [--redis redis://127.0.0.1:6379] [--runs 100]
 *
 * Prints one JSON line { runs, acquisitions, mismatch, error } and exits 1 on a mismatch or on any
 * error (Redis unreachable, the script failing): a check that could not run has not passed. Run by
 * test/ratelimit.test.ts against the real Redis.
 */
import { parseArgs } from "node:util";
import fc from "fast-check";
import { bucketShape } from "../src/bucket-shape.ts";
import { RedisBudgetStore } from "../src/redis-budget-store.ts";
import type { AcquireOutcome } from "../src/token-bucket-budget.ts";
import { TokenBucketBudget } from "../src/token-bucket-budget.ts";

const { values: args } = parseArgs({
  options: {
    redis: { type: "string", default: "redis://127.0.0.1:6379" },
    prefix: { type: "string", default: `chatq:twins:${process.pid}:` },
    runs: { type: "string", default: "100" },
  },
});

let now = 0;
const clock = () => now;
const connect = (owner: string) =>
  RedisBudgetStore.connect({ url: args.redis, keyPrefix: args.prefix, clock, owner });
const replicas = { a: await connect("a"), b: await connect("b"), c: await connect("c") };

const tokenCount = fc.oneof(fc.integer({ min: 0, max: 800 }), fc.integer({ min: 0, max: 8000 }));
const op = fc.oneof(
  fc.record({
    kind: fc.constant("acquire" as const),
    dt: fc.integer({ min: 0, max: 400 }),
    owner: fc.constantFrom("a" as const, "b" as const, "c" as const),
    items: fc.array(
      fc.record({
        tokens: tokenCount,
        interactive: fc.boolean(),
        headMs: fc.oneof(fc.constant(0), fc.nat(3000), fc.double({ min: 0, max: 3000, noNaN: true })),
      }),
      { maxLength: 8 },
    ),
  }),
  fc.record({
    kind: fc.constant("giveBack" as const),
    dt: fc.integer({ min: 0, max: 200 }),
    requests: fc.integer({ min: -1, max: 1 }),
    tokens: fc.integer({ min: -500, max: 1500 }),
  }),
  fc.record({
    kind: fc.constant("observe" as const),
    dt: fc.integer({ min: 0, max: 200 }),
    requests: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
    tokens: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
  }),
  fc.record({ kind: fc.constant("hold" as const), dt: fc.integer({ min: 0, max: 200 }), ms: fc.nat(1500) }),
);

let run = 0;
let acquisitions = 0;
let mismatch: unknown;
let error: string | undefined;
try {
  await fc.assert(
    fc.asyncProperty(
      fc.record({ rpm: fc.integer({ min: 0, max: 1200 }), tpm: fc.integer({ min: 0, max: 240_000 }) }),
      fc.constantFrom(250, 1000, 2000),
      fc.integer({ min: 0, max: 50 }),
      fc.array(op, { minLength: 10, maxLength: 60 }),
      async (limits, sliceMs, marginMs, ops) => {
        const model = `m${run++}`; // a fresh key per run
        const shape = bucketShape(limits, sliceMs, marginMs);
        const twin = new TokenBucketBudget();
        // Fractional, large times like Redis TIME's, so rounding would show.
        now = 1_700_000_000_000 + run * 1000.25;
        for (const o of ops) {
          now += o.dt;
          if (o.kind === "acquire") {
            const items = o.items;
            const fromRedis = await replicas[o.owner].acquire(model, shape, items);
            const fromTs: AcquireOutcome = twin.acquire(now, shape, items, o.owner);
            acquisitions++;
            if (JSON.stringify(fromRedis) !== JSON.stringify(fromTs)) {
              mismatch = { limits, sliceMs, marginMs, op: o, fromRedis, fromTs };
              return false;
            }
          } else if (o.kind === "giveBack") {
            await replicas.a.giveBack(model, shape, o.requests, o.tokens);
            twin.giveBack(now, shape, o.requests, o.tokens);
          } else if (o.kind === "observe") {
            await replicas.b.observe(model, shape, o.requests, o.tokens);
            twin.observe(now, shape, o.requests, o.tokens);
          } else {
            await replicas.a.holdBack(model, shape, o.ms);
            twin.holdBack(now, shape, o.ms);
          }
        }
        return true;
      },
    ),
    { numRuns: Number(args.runs), endOnFailure: true },
  );
} catch (err) {
  // A mismatch is recorded above and says more than fast-check's shrunk report would; anything else (Redis or
  // the script failing) is an error of its own, never "no mismatch".
  if (mismatch === undefined) {
    // fast-check wraps what the property threw: its cause is the Redis or script error itself.
    const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
    error = cause instanceof Error ? cause.message : String(cause);
  }
}
console.log(JSON.stringify({ runs: run, acquisitions, mismatch, error }));
await Promise.all(Object.values(replicas).map((r) => r.close()));
process.exit(mismatch === undefined && error === undefined ? 0 : 1);
