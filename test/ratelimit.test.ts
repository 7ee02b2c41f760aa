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
 * No timing windows: totals of grants against what the budget allows over the whole run, and orders of
 * events (a grant before or after another, or after a hold was in Redis). Windows of wall-clock time
 * flaked on a loaded machine, where a replica records a grant late; that a budget never goes over in any
 * interval is the unit tests' property over the same decisions (the Lua script's twin).
 */

const REPLICA = fileURLToPath(new URL("../packages/ratelimit/tools/replica.ts", import.meta.url));
const TWINS = fileURLToPath(new URL("../packages/ratelimit/tools/budget-twins.ts", import.meta.url));

// 600 RPM / 120k TPM over 1 s slices: buckets of 10 requests and 2,000 tokens, refilled over 1,020 ms.
const LIMITS = { rpm: 600, tpm: 120_000 };
const BUCKET = { requests: 10, tokens: 2000, refillMs: 1020 };

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
  /** Resolves once the hold is in Redis, with Date.now() before it was sent and after it was written. */
  holdBack(ms: number): Promise<{ sentAt: number; writtenAt: number }>;
  /** How many acquisitions it has been granted so far. */
  count(): Promise<number>;
  /** Resolves once the replica has been granted `n` acquisitions in all. */
  granted(n: number): Promise<void>;
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
  const reply = <T>(type: string) =>
    new Promise<T>((resolve) => {
      const on = (msg: { type: string }) => {
        if (msg.type !== type) return;
        child.off("message", on);
        resolve(msg as T);
      };
      child.on("message", on);
    });
  const count = async () => {
    const progress = reply<{ grants: number }>("progress");
    child.send({ type: "progress" });
    return (await progress).grants;
  };
  return {
    start: () => child.send({ type: "start" }),
    holdBack(ms) {
      const held = reply<{ sentAt: number; writtenAt: number }>("held");
      child.send({ type: "holdBack", ms });
      return held;
    },
    count,
    async granted(n) {
      while ((await count()) < n) await new Promise((r) => setTimeout(r, 50));
    },
    async stop() {
      const done = reply<{ report: Report }>("done");
      child.send({ type: "stop" });
      const msg = await done;
      await once(child, "exit");
      return msg.report;
    },
  };
}

const prefix = (label: string) => `test:ratelimit:${label}:${process.pid}:${Date.now()}:`;

/**
 * What one budget allows over a run of `elapsedMs` in all: a bucket, then its refill. The run is timed by the
 * test around everything the replicas did, so it is longer than the time over which Redis decided: the bound
 * can only be too generous, never too strict, however loaded the machine.
 */
function allowedOver(elapsedMs: number, maxTokens: number) {
  return {
    requests: BUCKET.requests + 1 + (BUCKET.requests * elapsedMs) / BUCKET.refillMs,
    tokens: BUCKET.tokens + maxTokens + (BUCKET.tokens * elapsedMs) / BUCKET.refillMs,
  };
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
    // Each well past the first bucket: the refill works, and both are served.
    await Promise.all(replicas.map((r) => r.granted(15)));
    const reports = await Promise.all(replicas.map((r) => r.stop()));
    const elapsed = Date.now() - started;

    const all = reports.flatMap((r) => r.grants);
    expect(reports.flatMap((r) => r.errors)).toEqual([]);
    // Shared, not one budget each: together they got no more than one budget's worth.
    const allowed = allowedOver(elapsed, tokens.max);
    expect(all.length).toBeLessThanOrEqual(allowed.requests);
    expect(all.reduce((sum, g) => sum + g.tokens, 0)).toBeLessThanOrEqual(allowed.tokens);
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
    const concurrency = 4;
    const other = await startReplica({ ...opts, name: "other", concurrency });
    other.start();
    await other.granted(20);
    const holdMs = 2000;
    const { sentAt, writtenAt } = await holder.holdBack(holdMs);
    // It moves again once the hold is over: more grants than it could have had decided before the hold.
    await other.granted((await other.count()) + concurrency + 1);
    const [report] = await Promise.all([other.stop(), holder.stop()]);

    const at = report.grants.map((g) => g.at);
    expect(report.errors).toEqual([]);
    expect(at.filter((t) => t < sentAt).length).toBeGreaterThan(0);
    // Between the hold being in Redis and its end (no sooner than sentAt + holdMs), only grants decided before
    // it could come through: one call's worth, one per concurrent acquisition.
    expect(at.filter((t) => t > writtenAt && t < sentAt + holdMs).length).toBeLessThanOrEqual(concurrency);
    expect(at.filter((t) => t >= sentAt + holdMs).length).toBeGreaterThan(0);
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
    await batch.granted(2 * BUCKET.requests); // the backlog moves, past the first bucket
    interactive.start();
    await interactive.granted(20);
    const fromInteractive = await interactive.stop();
    // Batch gets what interactive leaves: once it is gone, the backlog moves again.
    await batch.granted((await batch.count()) + BUCKET.requests + 1);
    const fromBatch = await batch.stop();

    expect([...fromBatch.errors, ...fromInteractive.errors]).toEqual([]);
    const interactiveAt = fromInteractive.grants.map((g) => g.at).sort((x, y) => x - y);
    const [first, last] = [interactiveAt[0] ?? 0, interactiveAt.at(-1) ?? 0];
    const batchAt = fromBatch.grants.map((g) => g.at);
    // While interactive work waited on the other replica (from its first grant to its last), batch work got at
    // most what had been decided before it first asked: one bucket. Without priority it would have had half.
    expect(batchAt.filter((t) => t > first && t < last).length).toBeLessThanOrEqual(BUCKET.requests);
    expect(batchAt.filter((t) => t < first).length).toBeGreaterThan(0);
    expect(batchAt.filter((t) => t > last).length).toBeGreaterThan(BUCKET.requests);
  });

  it("the Redis script and the local-mode budget decide alike on random sequences", async () => {
    const args = [TWINS, "--redis", services().redisUrl, "--prefix", prefix("twins"), "--runs", "300"];
    // The tool exits 1 on a mismatch and on any error (Redis, the script): a check that did not run has not passed.
    const { code, stdout, stderr } = await promisify(execFile)(process.execPath, args).then(
      (out) => ({ code: 0, ...out }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code ?? -1,
        stdout: err.stdout ?? "",
        stderr: err.stderr ?? "",
      }),
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const result = JSON.parse(stdout.trim()) as {
      runs: number;
      acquisitions: number;
      mismatch?: unknown;
      error?: string;
    };
    expect(result).toMatchObject({ runs: 300 });
    expect(result.mismatch).toBeUndefined();
    expect(result.error).toBeUndefined();
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
    const started = Date.now();
    replica.start();
    await replica.granted(2 * BUCKET.requests + 1);
    const report = await replica.stop();
    const elapsed = Date.now() - started;
    expect(report.errors).toEqual([]);
    const allowed = allowedOver(elapsed, tokens.max);
    expect(report.grants.length).toBeLessThanOrEqual(allowed.requests);
    expect(report.grants.reduce((sum, g) => sum + g.tokens, 0)).toBeLessThanOrEqual(allowed.tokens);
  });
});
