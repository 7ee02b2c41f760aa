// `pnpm bench peers`: chatq beside what a team would write without it, in one run, on the same request topic, the
// same fake API (its own process) and the same budget. Prints figures; asserts nothing.
//   (1) test/bench/peers/each-message.ts      kafkajs eachMessage, one message at a time per partition
//   (2) test/bench/peers/each-batch-p-limit.ts kafkajs eachBatch + p-limit, no ordering
//   (3) chatq: one worker process
// For each: a backlog (the same topic for all, read by each from the beginning) gives requests/s and budget use
// before a SIGKILL at half the backlog, per-conversation order violations, and API calls repeated once restarted;
// then a fed run at a rate all keep up with gives the added latency (reply read − published − the API's latency).
import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { ChatRequest } from "@chatq/contracts";
import { scenarioDb } from "../harness/database.ts";
import { startFakeProcess } from "../harness/fake-process.ts";
import { collect, createTopics, requestPublisher, testKafka } from "../harness/kafka-io.ts";
import { type Scenario, scenarioFor } from "../harness/names.ts";
import { freePort, spawnWorker } from "../harness/worker-process.ts";

const { values } = parseArgs({
  options: {
    backlog: { type: "string", default: "800" },
    conversations: { type: "string", default: "80" },
    rpm: { type: "string", default: "6000" },
    "latency-ms": { type: "string", default: "200" },
    "fed-rate": { type: "string", default: "40" },
    "fed-seconds": { type: "string", default: "12" },
  },
});
const BACKLOG = Number(values.backlog);
const CONVERSATIONS = Number(values.conversations);
const RPM = Number(values.rpm);
const LATENCY_MS = Number(values["latency-ms"]);
const FED_RATE = Number(values["fed-rate"]);
const FED_SECONDS = Number(values["fed-seconds"]);
const PARTITIONS = 12;
const metricsPort = await freePort();
const repoRoot = resolve(import.meta.dirname, "../..");

const services = {
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
  databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/chatq_test",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  source: { kafka: "env", postgres: "env", redis: "env" },
};
const s = scenarioFor("bench_peers", services);
console.log(
  `# peers: ${BACKLOG}-request backlog over ${CONVERSATIONS} conversations, ${PARTITIONS} partitions; ` +
    `fake at ${LATENCY_MS} ms, RPM ${RPM} over 1 s slices; fed run ${FED_RATE}/s for ${FED_SECONDS} s`,
);

// jitter 0: the API's own time is LATENCY_MS for every call, so added latency needs no per-reply API time.
const fake = await startFakeProcess({ latencyMs: LATENCY_MS, jitterMs: 0, rpm: RPM, tpm: 0, sliceMs: 1000 });
const kafka = testKafka(s);
await createTopics(kafka, s, PARTITIONS);
const publisher = await requestPublisher(kafka, s);
const publishedAt = new Map<string, number>();
const request = (id: string, conversation: string, turn: number): ChatRequest => {
  publishedAt.set(id, Date.now());
  return {
    request_id: id,
    conversation_id: conversation,
    messages: [{ role: "user", content: `Turn ${turn} of ${conversation}: what is ${turn} + ${turn}?` }],
    params: { max_tokens: 30 },
  };
};
// The backlog every contender reads: turn t of conversation c is request `${s.id}-b-${c}-${t}`.
const backlog: ChatRequest[] = [];
for (let i = 0; i < BACKLOG; i++) {
  const c = i % CONVERSATIONS;
  backlog.push(request(`${s.id}-b-${c}-${Math.floor(i / CONVERSATIONS)}`, `${s.id}-c-${c}`, i));
}
await publisher.publish(backlog);

interface Contender {
  name: string;
  start(topics: { requests: string; replies: string }, group: string): Running;
}
interface Running {
  kill(signal: NodeJS.Signals): Promise<void>;
}

const peer = (script: string, extra: Record<string, string>): Contender["start"] => {
  return (topics, group) => {
    const proc = spawn(process.execPath, [resolve(repoRoot, "test/bench/peers", script)], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? "",
        KAFKA_BROKERS: services.kafkaBrokers.join(","),
        OPENAI_API_KEY: "sk-chatq-test",
        OPENAI_BASE_URL: fake.url,
        TOPIC_REQUESTS: topics.requests,
        TOPIC_REPLIES: topics.replies,
        GROUP_ID: group,
        SESSION_TIMEOUT_MS: "10000",
        ...extra,
      },
      stdio: "ignore",
    });
    return { kill: (signal) => killed(proc, signal) };
  };
};

const contenders: Contender[] = [
  { name: "kafkajs eachMessage", start: peer("each-message.ts", { PARTITIONS: String(PARTITIONS) }) },
  {
    name: "kafkajs eachBatch + p-limit",
    start: peer("each-batch-p-limit.ts", { PARTITIONS: String(PARTITIONS), CONCURRENCY: "500" }),
  },
  {
    name: "chatq",
    start: (topics, group) => {
      const scenario: Scenario = { ...s, groupId: group, topics: { ...s.topics, ...topics } };
      const w = spawnWorker(scenario, fake.url, {
        // A fixed port: quiet logs never print the line that announces an ephemeral one.
        METRICS_PORT: String(metricsPort),
        OPENAI_RPM: String(RPM),
        OPENAI_TPM: "0",
        RATELIMIT_SLICE_MS: "1000",
        TOPIC_PARTITIONS: String(PARTITIONS),
        TOPIC_CREATE: "false",
        LOG_LEVEL: "warn",
      });
      w.metricsUrl.catch(() => undefined); // a SIGKILL before it is up is this benchmark's own doing
      return { kill: (signal) => w.stop(signal).then(() => undefined) };
    },
  },
];

const results: Record<string, Record<string, string | number>> = {};
for (const [i, c] of contenders.entries()) {
  await fetch(`${fake.adminUrl}/_fake/reset`, { method: "POST" });
  // The backlog: the same topic for all; replies to a topic of the contender's own.
  const repliesTopic = `${s.topics.replies}.${i}`;
  await ensureTopic(repliesTopic);
  const replies = await collect(kafka, repliesTopic, `${s.id}-${i}`);
  const firstReply = new Map<string, { at: number; turn: number; conversation: string }>();
  let read = 0;
  const firstReplies = () => {
    for (; read < replies.seen.length; read++) {
      const m = replies.seen[read];
      const { request_id: id } = JSON.parse(m?.value?.toString() ?? "{}") as { request_id?: string };
      if (m === undefined) continue;
      if (id === undefined || firstReply.has(id)) continue;
      const [, , c, t] = id.slice(s.id.length).split("-");
      firstReply.set(id, { at: m.receivedAt, turn: Number(t), conversation: c ?? "" });
    }
    return firstReply;
  };
  const group = `${s.groupId}-${i}`;
  const topics = { requests: s.topics.requests, replies: repliesTopic };
  let run = c.start(topics, group);
  const started = Date.now();
  await until(() => firstReplies().size >= BACKLOG / 2, 180_000);
  await run.kill("SIGKILL");
  const killedAt = Date.now();
  // What counts as steady: from 10 % to 45 % of the backlog answered, before the kill.
  const ordered = [...firstReplies().values()].sort((a, b) => a.at - b.at);
  // Not the first second either: the budget's first slice starts full, a burst no steady rate has.
  const from = Math.max(
    ordered[Math.floor(BACKLOG * 0.1)]?.at ?? started,
    (ordered[0]?.at ?? started) + 1000,
  );
  const to = ordered[Math.floor(BACKLOG * 0.45)]?.at ?? killedAt;
  const inWindow = ordered.filter((r) => r.at > from && r.at <= to).length;
  const perSecond = inWindow / Math.max(0.001, (to - from) / 1000);
  run = c.start(topics, group);
  const all = await until(() => firstReplies().size >= BACKLOG, 60_000);
  // Let a restarted peer finish what it redelivered before counting calls.
  await new Promise((r) => setTimeout(r, 2_000));
  await run.kill("SIGTERM");
  const stats = (await (await fetch(`${fake.adminUrl}/_fake/stats`)).json()) as {
    requests_total: number;
    by_status: Record<string, number>;
    completions_by_client_request_id: Record<string, number>;
  };
  const repeated = Object.entries(stats.completions_by_client_request_id).filter(
    ([id, n]) => id.includes("-b-") && n > 1,
  );
  await replies.close();

  // The fed run: a fresh topic pair (its own group), at a rate every contender keeps up with.
  const fedTopics = { requests: `${s.topics.requests}.fed${i}`, replies: `${s.topics.replies}.fed${i}` };
  await ensureTopic(fedTopics.requests);
  await ensureTopic(fedTopics.replies);
  const fedReplies = await collect(kafka, fedTopics.replies, `${s.id}-fed-${i}`);
  const fedRun = c.start(fedTopics, `${group}-fed`);
  const fedPublisher = await requestPublisher(kafka, { ...s, topics: { ...s.topics, ...fedTopics } });
  await new Promise((r) => setTimeout(r, 3_000)); // the member joins its group
  let seq = 0;
  const fedUntil = Date.now() + FED_SECONDS * 1000;
  while (Date.now() < fedUntil) {
    const batch = Array.from({ length: FED_RATE / 10 }, () => {
      const n = seq++;
      return request(`${s.id}-f${i}-${n}`, `${s.id}-f${i}-c-${n}`, 0);
    });
    await fedPublisher.publish(batch);
    await new Promise((r) => setTimeout(r, 100));
  }
  await until(() => fedReplies.seen.length >= seq, 30_000);
  const added = fedReplies.seen
    .map((m) => {
      const { request_id: id } = JSON.parse(m.value?.toString() ?? "{}") as { request_id?: string };
      return m.receivedAt - (publishedAt.get(id ?? "") ?? Number.NaN) - LATENCY_MS;
    })
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
  await fedRun.kill("SIGTERM");
  await Promise.all([fedReplies.close(), fedPublisher.close()]);

  results[c.name] = {
    "requests/s (before the kill)": perSecond.toFixed(1),
    "budget use": `${((100 * perSecond * 60) / RPM).toFixed(1)}%`,
    "429s (of calls)": `${stats.by_status["429"] ?? 0} (${((100 * (stats.by_status["429"] ?? 0)) / Math.max(1, stats.requests_total)).toFixed(1)}%)`,
    "order violations": orderViolations(firstReplies()),
    "answered after restart": all ? "all" : `${firstReplies().size} of ${BACKLOG}`,
    "API calls repeated after SIGKILL": repeated.length,
    [`added latency p50 / p99 at ${FED_RATE}/s (ms)`]: `${quantile(added, 0.5).toFixed(1)} / ${quantile(added, 0.99).toFixed(1)}`,
  };
  console.log(`${c.name}: ${JSON.stringify(results[c.name])}`);
}

console.log("");
const rows = Object.keys(Object.values(results)[0] ?? {});
console.log(`| | ${Object.keys(results).join(" | ")} |`);
console.log(
  `| --- | ${Object.keys(results)
    .map(() => "---")
    .join(" | ")} |`,
);
for (const r of rows)
  console.log(
    `| ${r} | ${Object.values(results)
      .map((x) => x[r])
      .join(" | ")} |`,
  );
console.log(`\nJSON ${JSON.stringify(results)}`);

await publisher.close();
await scenarioDb(s).drop();
fake.process.kill("SIGTERM");
process.exit(0);

/** Per conversation, in the order first replies arrived: a turn answered after a later turn of its conversation. */
function orderViolations(first: Map<string, { at: number; turn: number; conversation: string }>): number {
  const latest = new Map<string, number>();
  let violations = 0;
  for (const r of [...first.values()].sort((a, b) => a.at - b.at)) {
    const seen = latest.get(r.conversation) ?? -1;
    if (r.turn < seen) violations++;
    else latest.set(r.conversation, r.turn);
  }
  return violations;
}
async function ensureTopic(topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] });
  await admin.disconnect();
}
async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
function killed(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((r) => {
    if (proc.exitCode !== null) return r();
    proc.once("exit", () => r());
    proc.kill(signal);
  });
}
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
