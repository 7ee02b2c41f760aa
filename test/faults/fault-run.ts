import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ChatReply, ChatRequest } from "@chatq/contracts";
import { type FakeOpenAI, type FakeOpenAIOptions, startFakeOpenAI } from "@chatq/fake-openai";
import { Partitioners, type Producer } from "kafkajs";
import pg from "pg";
import { expect } from "vitest";
import { collect, createTopics, testKafka } from "../harness/kafka-io.ts";
import { type Scenario, scenarioFor } from "../harness/names.ts";
import type { PrivateKafka } from "../harness/private-kafka.ts";
import type { PrivatePostgres } from "../harness/private-postgres.ts";
import type { PrivateRedis } from "../harness/private-redis.ts";
import { spawnWorker, type WorkerProcess } from "../harness/worker-process.ts";
import { services } from "../setup/services.ts";

// One fault run, as a user would stage it: a real worker under a steady load, one fault for a while in the middle,
// then what the user checks. Each fault file says which service it takes away and how; everything else is here.

export interface FaultRunOptions {
  label: string;
  /** Private instances standing in for the shared ones: the fault stops them. */
  kafka?: PrivateKafka;
  postgres?: PrivatePostgres;
  redis?: PrivateRedis;
  requests?: number;
  conversations?: number;
  partitions?: number;
  /** Requests published per second, steadily, by a producer that retries through a Kafka outage. */
  ratePerSecond?: number;
  fakeOptions?: FakeOpenAIOptions;
  workerEnv?: Record<string, string>;
  /** The fault starts once the API has answered this many calls (the worker is busy by then)… */
  faultAfterCompletions?: number;
  /** …and this holds too (e.g. enough calls open at the API). */
  faultWhen?: (fake: FakeOpenAI) => boolean;
  /** The fault itself; resolves when it is over. */
  fault: (ctx: FaultContext) => Promise<void>;
  /** After the load is published, how long the worker gets to answer everything. */
  drainTimeoutMs?: number;
}

export interface FaultContext {
  fake: FakeOpenAI;
  /** Stops the current worker with `signal` (an exit the run expects) and starts a new one in its place. */
  replaceWorker: (signal: NodeJS.Signals) => Promise<WorkerProcess>;
}

/** What a user can see after the run: the database, the reply topic, the API's ledger, the worker process. */
export interface FaultRunResult {
  requestIds: string[];
  /** Rows in replies, per request_id: status, error code and API attempts of its reply. */
  stored: Map<string, { rows: number; status: string; errorCode: string | null; attempts: number | null }>;
  /** Every copy on the reply topic. */
  published: ChatReply[];
  /** X-Client-Request-Id → 200 answers, from the fake. */
  apiCalls: Record<string, number>;
  /** Exits of worker processes the run did not ask for. */
  unexpectedExits: { pid: number | undefined; code: number | null }[];
  healthzStatus: number;
  exitCode: number | null;
  /** Warn/error/fatal log lines of the workers, counted by message, for failure messages and the report. */
  problems: Record<string, number>;
  publishRetries: number;
  /** Every second: [ms since start, requests published, API calls answered (200), API calls open]. */
  timeline: [number, number, number, number][];
  ms: { faultStart: number; faultEnd: number; loadEnd: number; allStored: number | undefined; total: number };
}

const DEFAULTS = {
  requests: 1200,
  conversations: 240,
  partitions: 8,
  ratePerSecond: 60,
  faultAfterCompletions: 240,
  drainTimeoutMs: 60_000,
} as const;

export async function runFault(opts: FaultRunOptions): Promise<FaultRunResult> {
  const o = { ...DEFAULTS, ...opts };
  const shared = services();
  const s = scenarioFor(o.label, {
    ...shared,
    ...(o.kafka && { kafkaBrokers: o.kafka.brokers }),
    ...(o.postgres && { databaseUrl: o.postgres.databaseUrl }),
    ...(o.redis && { redisUrl: o.redis.url }),
  });
  const t0 = performance.now();
  const since = () => Math.round(performance.now() - t0);
  const kafka = testKafka(s);
  await createTopics(kafka, s, o.partitions);
  const fake = await startFakeOpenAI({
    apiKey: "sk-chatq-test",
    latencyMs: 800,
    jitterMs: 300,
    ...o.fakeOptions,
  });
  const requests = conversationLoad(s.id, o.requests, o.conversations);
  const db = storedReplies(s);

  const workers: WorkerProcess[] = [];
  const unexpectedExits: FaultRunResult["unexpectedExits"] = [];
  const expectedExits = new Set<WorkerProcess>();
  const startWorker = async () => {
    const w = spawnWorker(s, fake.url, {
      // A real budget in Redis (far above the load), so the limiter's shared path is exercised.
      OPENAI_RPM: "60000",
      OPENAI_TPM: "100000000",
      ...o.workerEnv,
    });
    workers.push(w);
    void w.exited.then((code) => {
      if (!expectedExits.has(w)) unexpectedExits.push({ pid: w.proc.pid, code });
    });
    await w.metricsUrl;
    return w;
  };
  let current = await startWorker();

  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: 2, initialRetryTime: 100 },
  });
  await producer.connect();
  const ms: FaultRunResult["ms"] = { faultStart: 0, faultEnd: 0, loadEnd: 0, allStored: undefined, total: 0 };
  let publishRetries = 0;
  const progress = { published: 0 };
  const timeline: FaultRunResult["timeline"] = [];
  const sampler = setInterval(() => {
    const f = fake.stats();
    timeline.push([since(), progress.published, f.completions_total, f.in_flight]);
  }, 1000);
  try {
    const load = publishSteadily(producer, s.topics.requests, requests, o.ratePerSecond, progress, () => {
      publishRetries++;
    }).then(() => {
      ms.loadEnd = since();
    });
    const ready = () =>
      fake.stats().completions_total >= o.faultAfterCompletions && (o.faultWhen?.(fake) ?? true);
    await until(ready, 60_000, "the load never got going");
    ms.faultStart = since();
    await o.fault({
      fake,
      replaceWorker: async (signal) => {
        expectedExits.add(current);
        await current.stop(signal);
        current = await startWorker();
        return current;
      },
    });
    ms.faultEnd = since();
    await load;

    const deadline = performance.now() + o.drainTimeoutMs;
    // Until everything is stored, or nothing more can be: the deadline passed or the worker is gone.
    while (performance.now() < deadline && unexpectedExits.length === 0) {
      if ((await db.count()) >= requests.length) {
        ms.allStored = since();
        break;
      }
      await sleep(200);
    }
    const stored = await db.read();
    // Read the reply topic only now, so the reader need not survive the fault itself.
    const replies = await collect(kafka, s.topics.replies, `${s.id}-check`);
    const topicWaitMs = ms.allStored === undefined ? 5_000 : 30_000; // stored first, then published
    await replies.waitForRequests(requests.length, topicWaitMs).catch(() => undefined);
    const published = replies.replies();
    await replies.close();
    const metricsUrl = await current.metricsUrl;
    const healthzStatus = await fetch(`${metricsUrl}/healthz`).then(
      (r) => r.status,
      () => 0,
    );
    const apiCalls = fake.stats().completions_by_client_request_id;
    for (const w of workers) expectedExits.add(w);
    const exitCode = unexpectedExits.length === 0 ? await current.stop("SIGTERM") : null;
    ms.total = since();
    return {
      requestIds: requests.map((r) => r.request_id),
      stored,
      published,
      apiCalls,
      unexpectedExits,
      healthzStatus,
      exitCode,
      problems: problemsIn(workers),
      publishRetries,
      timeline,
      ms,
    };
  } finally {
    clearInterval(sampler);
    await dumpLogs(o.label, workers);
    for (const w of workers) {
      expectedExits.add(w);
      await w.stop("SIGKILL");
    }
    await producer.disconnect().catch(() => undefined);
    await fake.close();
    await db.close();
  }
}

/**
 * What the user checks, in one comparison so a failure shows every figure at once: each request answered
 * `completed` exactly once in the replies table and present on the reply topic (every copy `completed`), no
 * request lost, no API call repeated beyond `maxRepeatedApiCalls`, the worker alive throughout and stopping cleanly.
 */
export function expectEveryRequestCompletedOnce(r: FaultRunResult, o: { maxRepeatedApiCalls?: number } = {}) {
  const ids = new Set(r.requestIds);
  const rowsTwice = [...r.stored.values()].filter((x) => x.rows > 1).length;
  const notCompleted: Record<string, number> = {};
  for (const x of r.stored.values()) {
    if (x.status !== "completed") {
      const why = `${x.status}:${x.errorCode ?? "-"} after ${x.attempts ?? "?"} attempts`;
      notCompleted[why] = (notCompleted[why] ?? 0) + 1;
    }
  }
  const onTopic = new Set(r.published.map((p) => p.request_id));
  const repeated = Object.values(r.apiCalls).filter((n) => n > 1).length;
  const summary = {
    workerExits: r.unexpectedExits,
    healthz: r.healthzStatus,
    exitCode: r.exitCode,
    lost: [...ids].filter((id) => !r.stored.has(id)).length,
    storedTwice: rowsTwice,
    notCompleted,
    missingFromReplyTopic: [...ids].filter((id) => !onTopic.has(id)).length,
    notCompletedOnReplyTopic: r.published.filter((p) => p.status !== "completed").length,
    neverAnsweredByApi: [...ids].filter((id) => r.apiCalls[id] === undefined).length,
  };
  const context = `timings ${JSON.stringify(r.ms)}; worker problems ${JSON.stringify(r.problems)}; repeated API calls ${repeated}`;
  expect(summary, context).toEqual({
    workerExits: [],
    healthz: 200,
    exitCode: 0,
    lost: 0,
    storedTwice: 0,
    notCompleted: {},
    missingFromReplyTopic: 0,
    notCompletedOnReplyTopic: 0,
    neverAnsweredByApi: 0,
  });
  expect(repeated, `requests the API answered more than once; ${context}`).toBeLessThanOrEqual(
    o.maxRepeatedApiCalls ?? 0,
  );
}

/** One line for the log of each run: the figures a reader of the report wants. */
export function describeRun(label: string, r: FaultRunResult): string {
  const repeated = Object.values(r.apiCalls).filter((n) => n > 1).length;
  const figures = {
    ms: r.ms,
    repeatedApiCalls: repeated,
    publishRetries: r.publishRetries,
    problems: r.problems,
  };
  return `[fault ${label}] ${JSON.stringify(figures)}\n  timeline [ms, published, answered, open]: ${JSON.stringify(r.timeline)}`;
}

/** `count` requests over `conversations` conversations, each conversation's turns in order. */
function conversationLoad(prefix: string, count: number, conversations: number): ChatRequest[] {
  return Array.from({ length: count }, (_, i) => {
    const conversation = `${prefix}-conv-${i % conversations}`;
    return {
      request_id: `${prefix}-req-${i}`,
      conversation_id: conversation,
      tenant: `tenant-${i % 3}`,
      messages: [{ role: "user", content: `${conversation} turn ${Math.floor(i / conversations) + 1}` }],
      params: { max_tokens: 40 },
    };
  });
}

/**
 * Publishes at a steady rate, as upstream producers do whatever chatq is going through; a send that fails (Kafka
 * away) is retried until it goes, and what fell due meanwhile goes with it. A send that failed after all may have
 * been written: then the request is on the topic twice, which chatq must answer once anyway.
 */
async function publishSteadily(
  producer: Producer,
  topic: string,
  requests: ChatRequest[],
  perSecond: number,
  progress: { published: number },
  onRetry: () => void,
): Promise<void> {
  const started = performance.now();
  let sent = 0;
  while (sent < requests.length) {
    const due = Math.min(requests.length, Math.ceil(((performance.now() - started) / 1000) * perSecond));
    if (due > sent) {
      const batch = requests.slice(sent, due);
      for (;;) {
        try {
          await producer.send({
            topic,
            messages: batch.map((r) => ({
              key: r.conversation_id ?? r.request_id,
              value: JSON.stringify(r),
            })),
          });
          break;
        } catch {
          onRetry();
          await sleep(250);
        }
      }
      sent = due;
      progress.published = sent;
    }
    await sleep(50); // the pace of the load, not a wait for a condition
  }
}

/** The scenario's replies table, read through a pool that lives through a database outage. */
function storedReplies(s: Scenario) {
  const pool = new pg.Pool({
    connectionString: s.services.databaseUrl,
    max: 2,
    options: `-c search_path=${s.schema}`,
    connectionTimeoutMillis: 2000,
  });
  pool.on("error", () => {}); // an idle connection lost in a Postgres outage: the next query reconnects
  return {
    async count(): Promise<number> {
      try {
        const { rows } = await pool.query<{ n: string }>("select count(*) as n from replies");
        return Number(rows[0]?.n ?? 0);
      } catch {
        return 0; // not migrated yet, or Postgres is away
      }
    },
    async read(): Promise<FaultRunResult["stored"]> {
      const { rows } = await pool.query<{
        request_id: string;
        rows: string;
        status: string;
        code: string | null;
        attempts: string | null;
      }>(
        `select request_id, count(*) as rows, min(status) as status, min(reply->'error'->>'code') as code,
                min(reply->>'attempts') as attempts
           from replies group by request_id`,
      );
      const row = (r: (typeof rows)[number]) => ({
        rows: Number(r.rows),
        status: r.status,
        errorCode: r.code,
        attempts: r.attempts === null ? null : Number(r.attempts),
      });
      return new Map(rows.map((r) => [r.request_id, row(r)]));
    },
    async close() {
      await pool.query(`drop schema if exists ${s.schema} cascade`).catch(() => undefined);
      await pool.end();
    },
  };
}

/** With CHATQ_FAULT_LOGS=<dir>, every worker's log lines go to <dir>/<label>-<n>.log for a post-mortem. */
async function dumpLogs(label: string, workers: WorkerProcess[]): Promise<void> {
  const dir = process.env.CHATQ_FAULT_LOGS;
  if (!dir) return;
  await mkdir(dir, { recursive: true });
  for (const [i, w] of workers.entries()) {
    await writeFile(
      join(dir, `${label}-${i + 1}.log`),
      `${w.logs.map((l) => JSON.stringify(l)).join("\n")}\n`,
    );
  }
}

function problemsIn(workers: WorkerProcess[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of workers) {
    for (const line of w.logs) {
      if (typeof line.level !== "number" || line.level < 40) continue;
      const key = `${line.level >= 50 ? "error" : "warn"}: ${String(line.msg)}`;
      out[key] = (out[key] ?? 0) + 1;
    }
  }
  return out;
}

async function until(cond: () => boolean, timeoutMs: number, why: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(why);
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
