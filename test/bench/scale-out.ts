// Scale-out benchmark: one replica works through a backlog far above the shared budget, then more replicas join
// (what an SRE or an autoscaler does when lag is high). Real Kafka, Postgres and Redis, services/fake-openai in its
// own process enforcing the same RPM/TPM over 1 s slices, real worker processes with the worker's own Kafka
// settings. Prints figures; asserts nothing.
//   pnpm bench scale-out [--rpm 300] [--before 30] [--after 60] [--joiners 2] [--backlog 4000] [--in-flight 500]
import { parseArgs } from "node:util";
import type { ChatRequest } from "@chatq/contracts";
import { scenarioDb } from "../harness/database.ts";
import { startFakeProcess } from "../harness/fake-process.ts";
import { createTopics, requestPublisher, testKafka } from "../harness/kafka-io.ts";
import { scenarioFor } from "../harness/names.ts";
import { freePort, metricValue, spawnWorker, type WorkerProcess } from "../harness/worker-process.ts";

const { values } = parseArgs({
  options: {
    rpm: { type: "string", default: "300" },
    tpm: { type: "string", default: "150000" },
    before: { type: "string", default: "30" },
    after: { type: "string", default: "60" },
    joiners: { type: "string", default: "2" },
    backlog: { type: "string", default: "4000" },
    "in-flight": { type: "string", default: "500" },
    "latency-ms": { type: "string", default: "300" },
    "window-s": { type: "string", default: "10" },
  },
});
const rpm = Number(values.rpm);
const tpm = Number(values.tpm);
const beforeS = Number(values.before);
const afterS = Number(values.after);
const joiners = Number(values.joiners);
const backlog = Number(values.backlog);
const inFlight = Number(values["in-flight"]);
const latencyMs = Number(values["latency-ms"]);
const windowS = Number(values["window-s"]);
const SLICE_MS = 1000;
const PARTITIONS = 12;
const SAMPLE_MS = 100;

const services = {
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
  databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/chatq_test",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  source: { kafka: "env", postgres: "env", redis: "env" },
};
const s = scenarioFor("bench_scale_out", services);
console.log(
  `# scale-out: 1 replica + a ${backlog}-request backlog over ${PARTITIONS} partitions, RPM ${rpm} / TPM ${tpm} ` +
    `over ${SLICE_MS} ms slices, ${latencyMs} ms latency; ${joiners} more join after ${beforeS} s, then ${afterS} s`,
);

const fake = await startFakeProcess({ latencyMs, jitterMs: latencyMs / 2, rpm, tpm, sliceMs: SLICE_MS });
const kafka = testKafka(s);
await createTopics(kafka, s, PARTITIONS);
const publisher = await requestPublisher(kafka, s);
const requests: ChatRequest[] = Array.from({ length: backlog }, (_, i) => ({
  request_id: `${s.id}-${i}`,
  conversation_id: `${s.id}-conv-${i % Math.ceil(backlog / 2)}`,
  messages: [{ role: "user", content: `Scale-out question ${i}: what is ${i} + ${i}? Answer briefly.` }],
  params: { max_tokens: 50 },
}));
await publisher.publish(requests);

// The worker's own group settings (not the tests' short ones): how long a join takes is part of the figure.
const workerEnv = async (): Promise<Record<string, string>> => ({
  METRICS_PORT: String(await freePort()),
  OPENAI_RPM: String(rpm),
  OPENAI_TPM: String(tpm),
  RATELIMIT_SLICE_MS: String(SLICE_MS),
  WORKER_MAX_IN_FLIGHT: String(inFlight),
  TOPIC_PARTITIONS: String(PARTITIONS),
  KAFKA_SESSION_TIMEOUT_MS: "30000",
  KAFKA_HEARTBEAT_INTERVAL_MS: "3000",
  HISTORY_MAX_MESSAGES: "20",
  LOG_LEVEL: "info",
});

interface Replica {
  name: string;
  worker: WorkerProcess;
  url: string;
  spawnedAt: number;
  /** (time, API calls started so far): a call is counted when the limiter grants it, just before it goes out. */
  calls: { at: number; n: number }[];
}
const replicas: Replica[] = [];
async function addReplica(name: string): Promise<Replica> {
  const spawnedAt = Date.now();
  const worker = spawnWorker(s, fake.url, await workerEnv());
  const r: Replica = { name, worker, url: await worker.metricsUrl, spawnedAt, calls: [] };
  replicas.push(r);
  return r;
}

// The fake's counters over time: what it admitted (every call it did not answer 429) and what it refused.
const fakeSamples: { at: number; admitted: number; refused: number }[] = [];
let sampling = true;
let slowestSampleMs = 0;
const sampleFake = async (at: number) => {
  const res = await fetch(`${fake.adminUrl}/_fake/stats`, { signal: AbortSignal.timeout(2000) });
  const st = (await res.json()) as { requests_total: number; by_status: Record<string, number> };
  const refused = st.by_status["429"] ?? 0;
  fakeSamples.push({ at, admitted: st.requests_total - refused, refused });
};
const sampleReplica = async (r: Replica, at: number) => {
  const n = await metricValue(r.url, "chatq_ratelimit_wait_seconds_count");
  r.calls.push({ at, n });
};
const sampler = (async () => {
  while (sampling) {
    const at = Date.now();
    // A sample that fails or hangs is skipped, not waited for: the next one says the same, later.
    await Promise.allSettled([sampleFake(at), ...replicas.map((r) => sampleReplica(r, at))]);
    slowestSampleMs = Math.max(slowestSampleMs, Date.now() - at);
    await new Promise((res) => setTimeout(res, Math.max(0, SAMPLE_MS - (Date.now() - at))));
  }
})();

const first = await addReplica("r1");
await until(() => (first.calls.at(-1)?.n ?? 0) > 0, 120_000);
const firstCallAt = firstCall(first) ?? Date.now();
await sleep(beforeS * 1000 - (Date.now() - firstCallAt));
const joinAt = Date.now();
await Promise.all(Array.from({ length: joiners }, (_, i) => addReplica(`r${i + 2}`)));
await sleep(afterS * 1000 - (Date.now() - joinAt));
sampling = false;
await sampler;

// --- figures ---
const assignments = (r: Replica) =>
  r.worker.logs
    .filter((l) => l.msg === "partitions assigned")
    .map((l) => ({ at: Number(l.time), partitions: (l.partitions as number[]).length }));
const lastRebalanceAt = Math.max(...replicas.flatMap((r) => assignments(r).map((a) => a.at)));

console.log(
  `\nbudget use per ${windowS} s window (admitted by the fake ÷ RPM pro rata; t = 0 when the joiners start)`,
);
const perWindow = (rpm * windowS) / 60;
const header = ["window (s)", "% of RPM", "429s", ...replicas.map((r) => `${r.name} calls`)];
console.log(header.map((h) => h.padStart(11)).join(""));
const windowFigures: { from: number; usePct: number; refused: number }[] = [];
for (let from = -Math.floor(beforeS / windowS) * windowS; from + windowS <= afterS; from += windowS) {
  const a = joinAt + from * 1000;
  const b = a + windowS * 1000;
  const admitted = delta(fakeSamples, a, b, (x) => x.admitted);
  const refused = delta(fakeSamples, a, b, (x) => x.refused);
  const usePct = (100 * admitted) / perWindow;
  windowFigures.push({ from, usePct, refused });
  const cells = [
    `${from}..${from + windowS}`,
    `${usePct.toFixed(1)}%`,
    String(refused),
    ...replicas.map((r) => String(delta(r.calls, a, b, (x) => x.n))),
  ];
  console.log(cells.map((c) => c.padStart(11)).join(""));
}

console.log("\nper replica, ms after the joiners were started (r1: its re-assignments after the join)");
const perReplica: Record<string, unknown>[] = [];
for (const r of replicas) {
  const seen = assignments(r).filter((x) => x.at >= joinAt);
  const firstAssigned = seen[0];
  const fc = firstCallAfter(r, firstAssigned?.at ?? joinAt);
  const logAt = (msg: string) => {
    const at = r.worker.logs.find((l) => l.msg === msg && Number(l.time) >= joinAt)?.time;
    return at === undefined ? "-" : Number(at) - joinAt;
  };
  const row = {
    replica: r.name,
    started: r === first ? "-" : r.spawnedAt - joinAt,
    // kafkajs logs this when a heartbeat answers that the group is rebalancing: the old member learns of the join.
    "noticed the rebalance": logAt("The group is rebalancing, re-joining"),
    "worker started (in the group)": logAt("worker started"),
    assigned: seen.map((x) => `${x.at - joinAt} (${x.partitions} partitions)`).join(", ") || "never",
    "first call": fc === undefined ? "none" : fc - joinAt,
    "assigned → first call": fc !== undefined && firstAssigned ? fc - firstAssigned.at : "-",
    "longest gap between calls after it": longestGap(r, fc ?? joinAt),
    warnings: warnings(r),
  };
  perReplica.push(row);
  console.log(
    Object.entries(row)
      .map(([k, v]) => `${k}: ${v}`)
      .join("; "),
  );
}
const after = windowFigures.filter((w) => w.from >= 0);
const summary = {
  rpm,
  joiners,
  // A lone first member joins at once: this is the process's start-up, the part of a join Kafka is not in.
  "r1 spawn → in the group (ms)":
    Number(first.worker.logs.find((l) => l.msg === "worker started")?.time) - first.spawnedAt,
  "rebalance done (ms after join)": lastRebalanceAt - joinAt,
  "use before join (%)": round(
    avg(windowFigures.filter((w) => w.from < 0 && w.from >= -20).map((w) => w.usePct)),
  ),
  "use first window after rebalance (%)": round(
    windowUse(fakeSamples, lastRebalanceAt, lastRebalanceAt + windowS * 1000, perWindow),
  ),
  "use after join (%)": round(avg(after.map((w) => w.usePct))),
  "429s total": fakeSamples.at(-1)?.refused ?? 0,
  "slowest sample (ms)": slowestSampleMs,
  "calls total": (fakeSamples.at(-1)?.admitted ?? 0) + (fakeSamples.at(-1)?.refused ?? 0),
};
console.log("");
for (const [k, v] of Object.entries(summary)) console.log(`${k.padEnd(40)} ${v}`);
console.log(`\nJSON ${JSON.stringify({ bench: "scale-out", ...summary, replicas: perReplica })}`);

await Promise.all(replicas.map((r) => r.worker.stop("SIGTERM")));
await publisher.close();
await scenarioDb(s).drop();
fake.process.kill("SIGTERM");
process.exit(0);

function firstCall(r: Replica): number | undefined {
  return r.calls.find((c) => c.n > 0)?.at;
}
/** When the replica's call count first rose after `from` (to the sampling interval). */
function firstCallAfter(r: Replica, from: number): number | undefined {
  const base = [...r.calls].reverse().find((c) => c.at <= from)?.n ?? 0;
  return r.calls.find((c) => c.at > from && c.n > base)?.at;
}
/** Distinct warning and error messages the replica logged, with their counts. */
function warnings(r: Replica): string {
  const counts = new Map<string, number>();
  for (const l of r.worker.logs) {
    if (Number(l.level) >= 40) counts.set(String(l.msg), (counts.get(String(l.msg)) ?? 0) + 1);
  }
  return [...counts].map(([m, n]) => `${m} ×${n}`).join(", ") || "none";
}
/** The longest stretch (ms, to the sampling interval) from `from` to the end in which the replica started no call. */
function longestGap(r: Replica, from: number): number {
  let last = from;
  let longest = 0;
  let n = [...r.calls].reverse().find((c) => c.at <= from)?.n ?? 0;
  for (const c of r.calls) {
    if (c.at <= from) continue;
    if (c.n > n) {
      longest = Math.max(longest, c.at - last);
      last = c.at;
      n = c.n;
    }
  }
  return Math.max(longest, (r.calls.at(-1)?.at ?? last) - last);
}
/** How much a sampled counter rose over [a, b): the last sample before each bound. */
function delta<T extends { at: number }>(samples: T[], a: number, b: number, v: (x: T) => number): number {
  const at = (t: number) => {
    let last: T | undefined;
    for (const x of samples) {
      if (x.at > t) break;
      last = x;
    }
    return last ? v(last) : 0;
  };
  return at(b) - at(a);
}
function windowUse(samples: typeof fakeSamples, a: number, b: number, allowed: number): number {
  return (100 * delta(samples, a, b, (x) => x.admitted)) / allowed;
}
function avg(xs: number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((x, y) => x + y, 0) / xs.length;
}
function round(x: number): number {
  return Math.round(x * 10) / 10;
}
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the first replica's first call");
    await sleep(100);
  }
}
