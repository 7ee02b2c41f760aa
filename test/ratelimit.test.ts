import { type ChildProcess, execFile, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { services } from "./setup/services.ts";

/**
 * The shared budget across real OS processes and a real Redis. Each replica is
 * packages/ratelimit/tools/replica.ts: a process that builds a limiter with the package's public
 * createRateLimiter() and acquires as fast as it is allowed, reporting every grant with its time.
 * No timing assertions: only counts of grants over intervals, against what the budget allows.
 */

const REPLICA = fileURLToPath(new URL("../packages/ratelimit/tools/replica.ts", import.meta.url));
const TWINS = fileURLToPath(new URL("../packages/ratelimit/tools/budget-twins.ts", import.meta.url));

// 600 RPM / 120k TPM over 1 s slices: buckets of 10 requests and 2,000 tokens, refilled over 1,020 ms.
const LIMITS = { rpm: 600, tpm: 120_000 };
const BUCKET = { requests: 10, tokens: 2000, refillMs: 1020 };
// Grants are timed where the replica records them, a few ms after Redis decided: allow this much
// extra refill per interval, and one request / one max-size request of slack for that skew.
const SKEW_MS = 100;

interface Grant {
  at: number;
  tokens: number;
  priority: "interactive" | "batch";
}
interface Report {
  name: string;
  grants: Grant[];
  errors: string[];
}
interface ReplicaOptions {
  name: string;
  redis: boolean;
  keyPrefix: string;
  limits: { rpm: number; tpm: number };
  priority: "interactive" | "batch";
  concurrency: number;
  tokens: { min: number; max: number };
}

interface Replica {
  start(): void;
  holdBack(ms: number): void;
  stop(): Promise<Report>;
}

async function startReplica(o: ReplicaOptions): Promise<Replica> {
  const config = {
    name: o.name,
    ...(o.redis && { redisUrl: services().redisUrl, keyPrefix: o.keyPrefix }),
    limits: o.limits,
    model: "gpt-4o-mini",
    priority: o.priority,
    concurrency: o.concurrency,
    tokens: o.tokens,
  };
  const child: ChildProcess = fork(REPLICA, [JSON.stringify(config)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const [first] = (await once(child, "message")) as [{ type: string }];
  expect(first.type).toBe("ready");
  return {
    start: () => child.send({ type: "start" }),
    holdBack: (ms) => child.send({ type: "holdBack", ms }),
    async stop() {
      const done = once(child, "message") as Promise<[{ type: string; report: Report }]>;
      child.send({ type: "stop" });
      const [msg] = await done;
      await once(child, "exit");
      return msg.report;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const prefix = (label: string) => `test:ratelimit:${label}:${process.pid}:${Date.now()}:`;

/**
 * Between any two grants a ≤ b, at most one bucket plus the refill of b − a went out (plus the
 * clock-skew allowance). Returns the intervals that broke it.
 */
function overBudget(grants: Grant[], maxTokens: number): string[] {
  const sorted = [...grants].sort((x, y) => x.at - y.at);
  const broken: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let requests = 0;
    let tokens = 0;
    const a = (sorted[i] as Grant).at;
    for (let j = i; j < sorted.length; j++) {
      const g = sorted[j] as Grant;
      requests++;
      tokens += g.tokens;
      const refill = (g.at - a + SKEW_MS) / BUCKET.refillMs;
      if (requests > BUCKET.requests + 1 + BUCKET.requests * refill) {
        broken.push(`${requests} requests in ${g.at - a} ms`);
      }
      if (tokens > BUCKET.tokens + maxTokens + BUCKET.tokens * refill) {
        broken.push(`${tokens} tokens in ${g.at - a} ms`);
      }
    }
  }
  return broken.slice(0, 5);
}

describe("rate limiter shared through Redis", () => {
  it("two replicas in separate processes never exceed the budget together", async () => {
    const keyPrefix = prefix("shared");
    const tokens = { min: 50, max: 250 };
    const replicas = await Promise.all(
      ["a", "b"].map((name) =>
        startReplica({
          name,
          redis: true,
          keyPrefix,
          limits: LIMITS,
          priority: "batch",
          concurrency: 20,
          tokens,
        }),
      ),
    );
    const started = Date.now();
    for (const r of replicas) r.start();
    await sleep(4000);
    const reports = await Promise.all(replicas.map((r) => r.stop()));
    const elapsed = Date.now() - started;

    const all = reports.flatMap((r) => r.grants);
    expect(reports.flatMap((r) => r.errors)).toEqual([]);
    expect(overBudget(all, tokens.max)).toEqual([]);
    // Shared, not one budget each: together they got no more than one budget's worth.
    expect(all.length).toBeLessThanOrEqual(
      BUCKET.requests + 1 + (BUCKET.requests * elapsed) / BUCKET.refillMs,
    );
    // Both were served, and beyond the first bucket (the refill works).
    for (const r of reports) expect(r.grants.length).toBeGreaterThan(0);
    expect(all.length).toBeGreaterThan(BUCKET.requests);
  });

  it("a holdBack (retry-after) in one process holds back the other", async () => {
    const keyPrefix = prefix("hold");
    const plenty = { rpm: 60_000, tpm: 0 };
    const opts = {
      redis: true,
      keyPrefix,
      limits: plenty,
      priority: "batch" as const,
      tokens: { min: 1, max: 1 },
    };
    const holder = await startReplica({ ...opts, name: "holder", concurrency: 1 });
    const other = await startReplica({ ...opts, name: "other", concurrency: 4 });
    other.start();
    await sleep(500);
    const heldAt = Date.now();
    holder.holdBack(2000);
    await sleep(3000);
    const [report] = await Promise.all([other.stop(), holder.stop()]);

    const at = report.grants.map((g) => g.at);
    expect(report.errors).toEqual([]);
    expect(at.filter((t) => t < heldAt).length).toBeGreaterThan(0);
    // Time for the IPC message and the Redis write, and for calls already at Redis to come back.
    expect(at.filter((t) => t >= heldAt + 300 && t < heldAt + 2000)).toEqual([]);
    expect(at.filter((t) => t >= heldAt + 2000).length).toBeGreaterThan(0);
  });

  it("interactive work of one replica overtakes the batch backlog of another", async () => {
    const keyPrefix = prefix("priority");
    const tokens = { min: 10, max: 10 };
    const opts = { redis: true, keyPrefix, limits: LIMITS, tokens };
    const batch = await startReplica({ ...opts, name: "batch", priority: "batch", concurrency: 30 });
    const interactive = await startReplica({
      ...opts,
      name: "interactive",
      priority: "interactive",
      concurrency: 3,
    });
    batch.start();
    await sleep(1500);
    const from = Date.now();
    interactive.start();
    await sleep(2500);
    const busyUntil = Date.now();
    const fromInteractive = await interactive.stop();
    await sleep(1500);
    const fromBatch = await batch.stop();

    const batchAt = fromBatch.grants.map((g) => g.at);
    expect([...fromBatch.errors, ...fromInteractive.errors]).toEqual([]);
    expect(batchAt.filter((t) => t < from).length).toBeGreaterThan(0);
    // While interactive work waits on any replica, batch work gets nothing (one refill of slack
    // for the hand-over when the interactive replica starts).
    const batchWhileBusy = batchAt.filter((t) => t >= from + BUCKET.refillMs && t < busyUntil);
    const interactiveWhileBusy = fromInteractive.grants.filter((g) => g.at >= from + BUCKET.refillMs);
    expect(interactiveWhileBusy.length).toBeGreaterThan(0);
    expect(batchWhileBusy).toEqual([]);
    // Batch gets what interactive leaves: once it is gone, the backlog moves again.
    expect(batchAt.filter((t) => t >= busyUntil).length).toBeGreaterThan(0);
  });

  it("the Redis script and the local-mode budget decide alike on random sequences", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [
      TWINS,
      "--redis",
      services().redisUrl,
      "--prefix",
      prefix("twins"),
      "--runs",
      "300",
    ]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? "" }));
    const result = JSON.parse(stdout.trim()) as { runs: number; acquisitions: number; mismatch?: unknown };
    expect(result.mismatch).toBeUndefined();
    expect(result.acquisitions).toBeGreaterThan(500);
  });
});

describe("rate limiter in local mode", () => {
  it("keeps one process within the budget without Redis", async () => {
    const tokens = { min: 50, max: 250 };
    const replica = await startReplica({
      name: "local",
      redis: false,
      keyPrefix: "",
      limits: LIMITS,
      priority: "batch",
      concurrency: 20,
      tokens,
    });
    replica.start();
    await sleep(2500);
    const report = await replica.stop();
    expect(report.errors).toEqual([]);
    expect(overBudget(report.grants, tokens.max)).toEqual([]);
    expect(report.grants.length).toBeGreaterThan(BUCKET.requests);
  });
});
