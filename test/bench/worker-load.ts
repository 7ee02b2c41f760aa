// End-to-end load benchmark: real Kafka, Postgres and Redis, the fake OpenAI API in its own process, and N worker
// processes. Prints figures; asserts nothing (timings on a shared 2-core machine belong in a report, not a test).
//   pnpm bench worker      — throughput: 50 ms API latency, no rate limit
//   pnpm bench ratelimit   — small budget shared by 3 workers, then the high-volume tier
//   pnpm bench routing     — throughput with every request on a 3-deployment route (preset routed)
// Or directly: node test/bench/worker-load.ts --preset throughput | small-budget | high-volume [--seconds N]
//   [--rate N | --rate 0 --backlog N] [--in-flight N (WORKER_MAX_IN_FLIGHT; default: the worker's own)]
//   [--floor-seconds N (fed runs: the bare Kafka loop first, default 15; 0 = skip)]
//   [--sample-seconds N (RSS and heap every N s, with their slope)] [--profile DIR (the worker's --cpu-prof)]
//   [--node-options "..." (the worker's NODE_OPTIONS, e.g. V8 heap flags)]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { ChatRequest } from "@chatq/contracts";
import { scenarioDb } from "../harness/database.ts";
import { startFakeProcess } from "../harness/fake-process.ts";
import { collect, createTopics, requestPublisher, testKafka } from "../harness/kafka-io.ts";
import { scenarioFor } from "../harness/names.ts";
import { encryptionEnv, newMasterKey } from "../harness/protection.ts";
import { freePort, spawnWorker } from "../harness/worker-process.ts";
import { measureKafkaFloor } from "./kafka-floor.ts";

interface Preset {
  description: string;
  workers: number;
  latencyMs: number;
  jitterMs: number;
  rpm: number;
  tpm: number;
  sliceMs: number;
  /** Fill a backlog of this many before starting the workers… */
  backlog?: number;
  /** …or publish this many per second for `seconds`. */
  rate?: number;
  seconds: number;
  conversations: number;
  maxTokens: number;
  /** WORKER_MAX_IN_FLIGHT; absent: the worker's default, below which it derives what the budget needs. */
  inFlight?: number;
  /** Requests name a route of this many deployments (weights 50/30/20…) instead of a plain model. */
  routeDeployments?: number;
  /** Questions carry an email and a phone number; with `on`, the worker runs every local guardrail on them. */
  guardrails?: "on" | "off";
}

const PRESETS: Record<string, Preset> = {
  throughput: {
    description: "one worker, 50 ms API latency, no rate limit, a 20,000-request backlog",
    workers: 1,
    latencyMs: 50,
    jitterMs: 10,
    rpm: 0,
    tpm: 0,
    sliceMs: 1000,
    backlog: 20_000,
    seconds: 120,
    conversations: 5_000,
    maxTokens: 50,
    inFlight: 500,
  },
  "small-budget": {
    description: "3 workers sharing Redis; RPM 600, TPM 120,000 enforced over 1 s slices; 300±200 ms latency",
    workers: 3,
    latencyMs: 300,
    jitterMs: 200,
    rpm: 600,
    tpm: 120_000,
    sliceMs: 1000,
    backlog: 4_000,
    seconds: 180,
    conversations: 2_000,
    maxTokens: 60,
    inFlight: 200,
  },
  "small-tpm": {
    description: "3 workers sharing Redis; TPM-bound: RPM 6,000, TPM 60,000 over 1 s slices, max_tokens 300",
    workers: 3,
    latencyMs: 300,
    jitterMs: 200,
    rpm: 6_000,
    tpm: 60_000,
    sliceMs: 1000,
    backlog: 3_000,
    seconds: 120,
    conversations: 1_500,
    maxTokens: 300,
    inFlight: 200,
  },
  "high-volume": {
    description: "1 worker, RPM 30,000, TPM 150,000,000, 1 s latency, fed at 450 requests/s",
    workers: 1,
    latencyMs: 1000,
    jitterMs: 100,
    rpm: 30_000,
    tpm: 150_000_000,
    sliceMs: 1000,
    rate: 450,
    seconds: 120,
    conversations: 20_000,
    maxTokens: 50,
  },
};

// The throughput preset with every request on a route of 3 deployments (the same fake behind each): routing's cost.
PRESETS.routed = {
  ...(PRESETS.throughput as Preset),
  description: "one worker, 50 ms API latency, no rate limit, a 20,000-request backlog, a 3-deployment route",
  routeDeployments: 3,
};

// Guardrails' cost at the throughput preset: the same PII-carrying questions with every local step on, and off.
// Moderation is off in both (it is an API call of its own, not the pipeline's cost).
for (const mode of ["off", "on"] as const) {
  PRESETS[`guardrails-${mode}`] = {
    ...(PRESETS.throughput as Preset),
    description: `one worker, 50 ms API latency, no rate limit, a 20,000-request backlog, questions with PII, guardrails ${mode}`,
    guardrails: mode,
  };
}

const { values } = parseArgs({
  options: {
    preset: { type: "string", default: "throughput" },
    seconds: { type: "string" },
    rate: { type: "string" },
    backlog: { type: "string" },
    "in-flight": { type: "string" },
    "floor-seconds": { type: "string", default: "15" },
    "sample-seconds": { type: "string" },
    profile: { type: "string" },
    "node-options": { type: "string" },
    // Encryption at rest (README: Data protection) for the protection benchmark; off keeps the earlier figures.
    encryption: { type: "string", default: "off" },
  },
});
const preset = PRESETS[values.preset ?? ""];
if (!preset) {
  console.error(`unknown preset; one of: ${Object.keys(PRESETS).join(", ")}`);
  process.exit(2);
}
const p: Preset = {
  ...preset,
  ...(values.seconds !== undefined && { seconds: Number(values.seconds) }),
  ...(values.rate !== undefined && { rate: Number(values.rate) }),
  ...(values.backlog !== undefined && { backlog: Number(values.backlog) }),
  ...(values["in-flight"] !== undefined && { inFlight: Number(values["in-flight"]) }),
};
const nodeOptions = [
  values["node-options"] ?? "",
  values.profile === undefined ? "" : `--cpu-prof --cpu-prof-dir=${values.profile}`,
]
  .join(" ")
  .trim();
const floorSeconds = p.rate ? Number(values["floor-seconds"]) : 0;
const sampleSeconds = Number(values["sample-seconds"] ?? 0);

const services = {
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
  databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/chatq_test",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  source: { kafka: "env", postgres: "env", redis: "env" },
};
const s = scenarioFor(`bench_${values.preset}`, services);
const MASTER_KEY = newMasterKey();
console.log(`# ${values.preset}: ${p.description}`);

const fake = await startFakeProcess(p);
const kafka = testKafka(s);
await createTopics(kafka, s, 12);
const replies = await collect(kafka, s.topics.replies, s.id);
const publisher = await requestPublisher(kafka, s);
// Before the worker starts, so the loop has the machine to itself as the worker will.
const floor =
  floorSeconds > 0
    ? await measureKafkaFloor(kafka, {
        brokers: services.kafkaBrokers,
        inTopic: `${s.topics.requests}.floor`,
        outTopic: `${s.topics.replies}.floor`,
        groupId: `${s.groupId}-floor`,
        ratePerSecond: p.rate ?? 0,
        seconds: floorSeconds,
      })
    : [];
const publishedAt = new Map<string, number>();
let seq = 0;
const nextRequests = (n: number): ChatRequest[] =>
  Array.from({ length: n }, () => {
    const i = seq++;
    const request_id = `${s.id}-${i}`;
    publishedAt.set(request_id, Date.now());
    return {
      request_id,
      conversation_id: `${s.id}-conv-${i % p.conversations}`,
      messages: [
        {
          role: "user",
          content:
            p.guardrails === undefined
              ? `Benchmark question ${i}: what is ${i} + ${i}? Answer briefly, please.`
              : `Benchmark question ${i} from user${i}@example.com (+34 612 345 ${String(i % 1000).padStart(3, "0")}): what is ${i} + ${i}?`,
        },
      ],
      params: { max_tokens: p.maxTokens },
      ...(p.routeDeployments !== undefined && { model: "bench-route" }),
    };
  });

if (p.backlog) {
  // In slices, so a backlog of a million is never a million objects at once.
  for (let left = p.backlog; left > 0; left -= 10_000)
    await publisher.publish(nextRequests(Math.min(left, 10_000)));
  console.log(`backlog of ${p.backlog} requests published`);
}

const routeDir =
  p.routeDeployments === undefined ? undefined : mkdtempSync(join(tmpdir(), "chatq-bench-routes-"));
const routeEnv: Record<string, string> = {};
if (routeDir !== undefined && p.routeDeployments !== undefined) {
  const ids = Array.from({ length: p.routeDeployments }, (_, i) => `d${i}`);
  const weights = [50, 30, 20];
  const file = join(routeDir, "routes.json");
  writeFileSync(
    file,
    JSON.stringify({
      deployments: Object.fromEntries(ids.map((id) => [id, { model: "gpt-4o-mini", base_url: fake.url }])),
      routes: {
        "bench-route": {
          variants: ids.map((id, i) => ({ name: id, deployment: id, weight: weights[i] ?? 10 })),
          fallbacks: ids,
        },
      },
    }),
  );
  routeEnv.ROUTES_FILE = file;
}

if (p.guardrails === "on") {
  const dir = mkdtempSync(join(tmpdir(), "chatq-bench-guardrails-"));
  const file = join(dir, "policy.json");
  writeFileSync(file, JSON.stringify({ default: { topics: { health: "disclaim", finance: "disclaim" } } }));
  routeEnv.GUARDRAILS_ENABLED = "true";
  routeEnv.GUARDRAILS_POLICY_FILE = file;
}

const ports = await Promise.all(Array.from({ length: p.workers }, () => freePort()));
const workers = ports.map((port) =>
  spawnWorker(s, fake.url, {
    METRICS_PORT: String(port),
    OPENAI_RPM: String(p.rpm),
    OPENAI_TPM: String(p.tpm),
    RATELIMIT_SLICE_MS: String(p.sliceMs),
    ...(p.inFlight !== undefined && { WORKER_MAX_IN_FLIGHT: String(p.inFlight) }),
    ...(nodeOptions !== "" && { NODE_OPTIONS: nodeOptions }),
    TOPIC_PARTITIONS: "12",
    LOG_LEVEL: "warn",
    HISTORY_MAX_MESSAGES: "20",
    ...routeEnv,
    ...(values.encryption === "on" ? encryptionEnv(MASTER_KEY) : {}),
  }),
);
await Promise.all(workers.map((w) => w.metricsUrl));
const started = Date.now();
let maxRssMb = 0;
const rssTimer = setInterval(() => {
  for (const w of workers) maxRssMb = Math.max(maxRssMb, rssMb(w.proc.pid));
}, 1000);
// The first worker's RSS (from /proc) and V8 heap (its own /metrics), every sampleSeconds, for the memory run.
const samples: { s: number; rssMb: number; heapMb: number; inFlightTarget: number }[] = [];
const metricsUrl = await workers[0]?.metricsUrl;
const sampleTimer =
  sampleSeconds > 0
    ? setInterval(() => {
        void sampleMemory(metricsUrl ?? "", workers[0]?.proc.pid).then((m) => {
          const sample = { s: Math.round((Date.now() - started) / 1000), ...m };
          samples.push(sample);
          console.log(`sample ${JSON.stringify(sample)}`);
        });
      }, sampleSeconds * 1000)
    : undefined;

if (p.rate) {
  const until = started + p.seconds * 1000;
  const perTick = p.rate / 10;
  let owed = 0;
  while (Date.now() < until) {
    owed += perTick;
    const n = Math.floor(owed);
    owed -= n;
    if (n > 0) await publisher.publish(nextRequests(n));
    await new Promise((r) => setTimeout(r, 100));
  }
} else {
  await new Promise((r) => setTimeout(r, p.seconds * 1000));
}
const windowEnd = Date.now();
clearInterval(rssTimer);
clearInterval(sampleTimer);

// Steady state. A backlog run: the middle 80% of the replies (no warm-up, no tail). A fed run: all but the
// first 15 s (group join, connections warming up).
const arrivals = replies.seen
  .map((m) => ({ at: m.receivedAt, id: requestIdOf(m.value) }))
  .sort((a, b) => a.at - b.at);
const [steadyFrom, steadyTo] = p.rate
  ? [started + 15_000, windowEnd]
  : [
      arrivals[Math.floor(arrivals.length * 0.1)]?.at ?? started,
      arrivals[Math.floor(arrivals.length * 0.9)]?.at ?? windowEnd,
    ];
const steady = arrivals.filter((a) => a.at >= steadyFrom && a.at <= steadyTo);
const steadySeconds = Math.max(0.001, (steadyTo - steadyFrom) / 1000);
const answeredPerSecond = steady.length / steadySeconds;

const stats = (await (await fetch(`${fake.adminUrl}/_fake/stats`)).json()) as {
  requests_total: number;
  by_status: Record<string, number>;
  completions_total: number;
  prompt_tokens_total: number;
  completion_tokens_total: number;
};
const db = scenarioDb(s);
const rows = await db.query<{ request_id: string; api_ms: number }>("select request_id, api_ms from usage");
const apiMs = new Map(rows.map((r) => [r.request_id, Number(r.api_ms)]));
const added: number[] = [];
for (const a of steady) {
  const pub = publishedAt.get(a.id);
  const api = apiMs.get(a.id);
  if (pub !== undefined && api !== undefined) added.push(a.at - pub - api);
}
added.sort((x, y) => x - y);
const phases = p.rate ? await phaseBreakdown(db, steady, publishedAt) : undefined;
const elapsedMin = (windowEnd - started) / 60_000;
const figures: Record<string, string | number> = {
  workers: p.workers,
  "window (s)": Math.round((windowEnd - started) / 1000),
  "answered/s (steady)": answeredPerSecond.toFixed(1),
  "answered total": new Set(arrivals.map((a) => a.id)).size,
  "API calls": stats.requests_total,
  "429 share of calls": `${((100 * (stats.by_status["429"] ?? 0)) / Math.max(1, stats.requests_total)).toFixed(2)}%`,
  "worker RSS max (MB)": maxRssMb.toFixed(0),
};
if (p.rpm > 0) {
  figures["successful calls/min ÷ RPM"] =
    `${((100 * (steady.length / steadySeconds) * 60) / p.rpm).toFixed(1)}%`;
  // What the API charges against TPM at arrival: prompt + max_tokens of every call it let through.
  const charged = stats.prompt_tokens_total + stats.completions_total * p.maxTokens;
  figures["tokens charged/min ÷ TPM"] = `${((100 * charged) / elapsedMin / p.tpm).toFixed(1)}%`;
}
if (p.rate && added.length > 0) {
  figures["added latency p50 (ms)"] = quantile(added, 0.5).toFixed(1);
  figures["added latency p99 (ms)"] = quantile(added, 0.99).toFixed(1);
}
if (floor.length > 0) {
  figures["Kafka floor p50 (ms)"] = quantile(floor, 0.5).toFixed(1);
  figures["Kafka floor p99 (ms)"] = quantile(floor, 0.99).toFixed(1);
  if (added.length > 0) {
    figures["chatq / floor p50"] = (quantile(added, 0.5) / quantile(floor, 0.5)).toFixed(2);
    figures["chatq / floor p99"] = (quantile(added, 0.99) / quantile(floor, 0.99)).toFixed(2);
  }
}
// Growth after the first minute (warm-up: pools, JIT, the heap finding its size): least squares, MB per minute.
const settled = samples.filter((x) => x.s >= 60);
if (settled.length >= 3) {
  figures["RSS slope after 60 s (MB/min)"] = slopePerMinute(settled.map((x) => [x.s, x.rssMb])).toFixed(2);
  figures["heap slope after 60 s (MB/min)"] = slopePerMinute(settled.map((x) => [x.s, x.heapMb])).toFixed(2);
  figures["RSS min / max after 60 s (MB)"] =
    `${Math.min(...settled.map((x) => x.rssMb)).toFixed(0)} / ${Math.max(...settled.map((x) => x.rssMb)).toFixed(0)}`;
  figures["heap min / max after 60 s (MB)"] =
    `${Math.min(...settled.map((x) => x.heapMb)).toFixed(0)} / ${Math.max(...settled.map((x) => x.heapMb)).toFixed(0)}`;
}
console.log("");
for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(32)} ${v}`);
if (phases) {
  console.log("\nwhere the added latency goes (p50 / p99 ms of each phase, steady replies):");
  for (const [k, v] of Object.entries(phases)) console.log(`  ${k.padEnd(44)} ${v}`);
}
console.log(
  `\nJSON ${JSON.stringify({ preset: values.preset, encryption: values.encryption, ...figures, ...(phases && { phases }) })}`,
);

await Promise.all(workers.map((w) => w.stop("SIGTERM")));
await Promise.all([replies.close(), publisher.close()]);
await db.drop();
fake.process.kill("SIGTERM");
if (routeDir !== undefined) rmSync(routeDir, { recursive: true, force: true });
process.exit(0);

function requestIdOf(v: Buffer | null): string {
  return (JSON.parse(v?.toString("utf8") ?? "{}") as { request_id?: string }).request_id ?? "";
}
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
/**
 * Splits each steady reply's path at the moments the database saw: admitted (the intake INSERT's transaction),
 * the first attempt started (audit row, the worker's clock), stored (the effects transaction). The same machine's
 * clock throughout, so the phases add up to the whole.
 */
async function phaseBreakdown(
  db: ReturnType<typeof scenarioDb>,
  steadyReplies: { at: number; id: string }[],
  published: Map<string, number>,
): Promise<Record<string, string>> {
  const rows = await db.query<{
    request_id: string;
    admitted: number;
    attempt: number;
    stored: number;
    api_ms: number;
  }>(
    `select q.request_id, extract(epoch from q.created_at) * 1000 as admitted,
            (select extract(epoch from min(a.at)) * 1000 from audit_log a
              where a.request_id = q.request_id and a.event = 'attempt_started') as attempt,
            extract(epoch from r.created_at) * 1000 as stored, u.api_ms
       from requests q join replies r using (request_id) join usage u using (request_id)`,
  );
  const byId = new Map(rows.map((r) => [r.request_id, r]));
  const cols: Record<string, number[]> = {
    "publish → admitted (fetch, decode, admit txn)": [],
    "admitted → API call (history, limiter)": [],
    "API answered → stored (effects batching)": [],
    "stored → reply read (txn, produce, fetch)": [],
  };
  const [a, b, c, d] = Object.values(cols) as [number[], number[], number[], number[]];
  for (const reply of steadyReplies) {
    const r = byId.get(reply.id);
    const pub = published.get(reply.id);
    if (!r || pub === undefined || r.attempt === null) continue;
    a.push(Number(r.admitted) - pub);
    b.push(Number(r.attempt) - Number(r.admitted));
    c.push(Number(r.stored) - Number(r.attempt) - Number(r.api_ms));
    d.push(reply.at - Number(r.stored));
  }
  return Object.fromEntries(
    Object.entries(cols).map(([k, v]) => {
      v.sort((x, y) => x - y);
      return [k, `${quantile(v, 0.5).toFixed(1)} / ${quantile(v, 0.99).toFixed(1)}`];
    }),
  );
}
async function sampleMemory(url: string, pid: number | undefined) {
  const text = await fetch(`${url}/metrics`).then(
    (r) => r.text(),
    () => "",
  );
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    rssMb: Math.round(rssMb(pid)),
    heapMb: Math.round(gauge("nodejs_heap_size_used_bytes") / 1024 / 1024),
    inFlightTarget: gauge("chatq_in_flight_target"),
  };
}
function slopePerMinute(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : (60 * sxy) / sxx;
}
function rssMb(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
