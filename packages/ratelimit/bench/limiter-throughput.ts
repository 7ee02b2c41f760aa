/**
 * What the limiter costs a worker, against bottleneck 2.19.5 doing the same job. One process, a
 * budget too large to bind (so only the limiter's own overhead shows):
 *   - closed loop: 64 callers acquire back to back for a few seconds → acquisitions/s, and the
 *     time each acquisition took (mostly queueing behind the other 63);
 *   - open loop at 400 acquisitions/s (the worker's target) → added latency of each one.
 *
 *   pnpm exec node packages/ratelimit/bench/limiter-throughput.ts [--seconds 3] [--only chatq|bottleneck]
 *
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379) for the Redis rows.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import Bottleneck from "bottleneck";
import { Redis } from "ioredis";
import { createRateLimiter } from "../src/index.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    only: { type: "string" },
  },
});
const SECONDS = Number(args.seconds);
const CONCURRENCY = 64;
const OPEN_LOOP_RATE = 400;

/** Resolves when the call may go; the measured cost of a limiter is the time until then. */
type Acquire = () => Promise<unknown>;

interface Subject {
  name: string;
  start(): Promise<{ acquire: Acquire; close: () => Promise<void> }>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function closedLoop(acquire: Acquire, ms: number) {
  const latencies: number[] = [];
  const until = performance.now() + ms;
  let count = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        await acquire();
        latencies.push(performance.now() - t);
        count++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { perSecond: count / (ms / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** Starts acquisitions on a fixed schedule, whether or not earlier ones are done, like arriving work. */
async function openLoop(acquire: Acquire, ms: number) {
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const interval = 1000 / OPEN_LOOP_RATE;
  const start = performance.now();
  for (let i = 0; i * interval < ms; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t = performance.now();
    pending.push(
      acquire().then(() => {
        latencies.push(performance.now() - t);
      }),
    );
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const plenty = { rpm: 100_000_000, tpm: 100_000_000_000 };
const run = `${process.pid}:${Date.now()}`;

const chatq = (redis: boolean): Subject => ({
  name: `chatq ${redis ? "Redis" : "local"}`,
  async start() {
    const limiter = await createRateLimiter({
      limits: { default: plenty },
      ...(redis && { redis: { url: REDIS_URL, keyPrefix: `bench:throughput:${run}:` } }),
      maxQueued: 1_000_000,
    });
    let i = 0;
    return {
      acquire: () =>
        limiter.acquire({ model: "m", tokens: 500, priority: i++ % 4 === 0 ? "interactive" : "batch" }),
      close: () => limiter.close(),
    };
  },
});

const bottleneck = (clustered: boolean): Subject => ({
  name: `bottleneck 2.19.5 ${clustered ? "clustered" : "local"}`,
  async start() {
    const url = new URL(REDIS_URL);
    const limiter = new Bottleneck({
      // The same job as chatq's: a requests budget (bottleneck has one reservoir, so no second one
      // for tokens), refilled every minute; never binding here.
      reservoir: plenty.rpm,
      reservoirRefreshAmount: plenty.rpm,
      reservoirRefreshInterval: 60_000,
      maxConcurrent: null,
      minTime: 0,
      ...(clustered && {
        id: `bench-throughput-${run}`,
        datastore: "ioredis",
        clearDatastore: true,
        Redis,
        clientOptions: { host: url.hostname, port: Number(url.port || 6379) },
      }),
    });
    await limiter.ready();
    let i = 0;
    return {
      // Resolves when bottleneck starts the job: the moment the API call would go out.
      acquire: () =>
        new Promise<void>((resolve) => {
          void limiter.schedule({ priority: i++ % 4 === 0 ? 1 : 5, weight: 1 }, async () => resolve());
        }),
      close: async () => {
        await limiter.stop({ dropWaitingJobs: true }).catch(() => {});
        await limiter.disconnect();
      },
    };
  },
});

const subjects = [chatq(false), chatq(true), bottleneck(false), bottleneck(true)].filter(
  (s) => args.only === undefined || s.name.startsWith(args.only),
);

const fmt = (x: number) => (Number.isFinite(x) ? Number(x.toFixed(2)) : "n/a");
const rows = [];
for (const s of subjects) {
  const { acquire, close } = await s.start();
  await closedLoop(acquire, 500); // warm up (JIT, connections, scripts loaded)
  const closed = await closedLoop(acquire, SECONDS * 1000);
  const open = await openLoop(acquire, SECONDS * 1000);
  await close();
  const row = {
    limiter: s.name,
    "acquisitions/s (64 callers)": Math.round(closed.perSecond),
    "ms each p50 (64 callers)": fmt(closed.p50),
    "ms each p99 (64 callers)": fmt(closed.p99),
    "added ms p50 @400/s": fmt(open.p50),
    "added ms p99 @400/s": fmt(open.p99),
  };
  console.log(JSON.stringify(row));
  rows.push(row);
}
console.table(rows);
