import type { FakeOpenAI } from "@chatq/fake-openai";
import { migrate } from "@chatq/store";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenarioDb } from "../harness/database.ts";
import {
  type GatewayProcess,
  scenarioTenants,
  spawnGateway,
  workerEnvForGateways,
} from "../harness/gateway-process.ts";
import { createTopics, testKafka } from "../harness/kafka-io.ts";
import { type PrivateKafka, startPrivateKafka } from "../harness/private-kafka.ts";
import { type PrivatePostgres, startPrivatePostgres } from "../harness/private-postgres.ts";
import { type PrivateRedis, startPrivateRedis } from "../harness/private-redis.ts";
import { type Scenario, uniqueScenario } from "../harness/scenario.ts";
import { startTestFake } from "../harness/test-budget.ts";
import { spawnWorker, type WorkerProcess } from "../harness/worker-process.ts";

// What a user of the HTTP gateway sees when Kafka or Postgres goes away for 10 s under their traffic: the
// official openai SDK, as they run it (its own retries, an Idempotency-Key per call), gets every answer, each
// question answered by the API exactly once, and the gateway and the worker live through it.

const OUTAGE_MS = 10_000;
const CALLS = 300;
/** New calls per second, whatever the answers do: an application's users do not wait for each other. */
const CALLS_PER_SECOND = 25;

interface Stack {
  s: Scenario;
  kafka: PrivateKafka;
  postgres: PrivatePostgres;
  redis: PrivateRedis;
  fake: FakeOpenAI;
  worker: WorkerProcess;
  gateway: GatewayProcess;
  db: ReturnType<typeof scenarioDb>;
  key: string;
  baseURL: string;
}

async function startStack(label: string): Promise<Stack> {
  const [kafka, postgres, redis] = await Promise.all([
    startPrivateKafka(),
    startPrivatePostgres(),
    startPrivateRedis(),
  ]);
  const base = uniqueScenario(label);
  const s: Scenario = {
    ...base,
    services: {
      ...base.services,
      kafkaBrokers: kafka.brokers,
      databaseUrl: postgres.databaseUrl,
      redisUrl: redis.url,
    },
  };
  await createTopics(testKafka(s), s, 4);
  await migrate({ databaseUrl: s.services.databaseUrl, schema: s.schema });
  const tenants = scenarioTenants(s);
  await tenants.createTenant({ tenantId: "acme" });
  const { key } = await tenants.createKey("acme");
  await tenants.close();
  const fake = await startTestFake({ latencyMs: 200, jitterMs: 100 });
  const worker = spawnWorker(s, fake.url, workerEnvForGateways(s));
  await worker.metricsUrl;
  const gateway = spawnGateway(s, { GATEWAY_PUBLISH_TIMEOUT_MS: "2000", GATEWAY_REPLY_TIMEOUT_MS: "30000" });
  return {
    s,
    kafka,
    postgres,
    redis,
    fake,
    worker,
    gateway,
    db: scenarioDb(s),
    key,
    baseURL: `${await gateway.url}/v1`,
  };
}

async function stopStack(st: Stack | undefined): Promise<void> {
  if (!st) return;
  await st.db.drop().catch(() => undefined);
  await st.gateway.stop("SIGKILL");
  await st.worker.stop("SIGKILL");
  await st.fake.close();
  await Promise.all([st.kafka.close(), st.postgres.close(), st.redis.close()]);
}

interface Outcome {
  answered: number;
  /** HTTP attempts the SDK saw fail (a 5xx or 429, or no connection) and retried: the fault was felt. */
  failedAttempts: number;
  /** Calls that took longer than half the outage: the gateway held them through it. */
  heldThroughOutage: number;
  slowestMs: number;
  wrongAnswers: string[];
  failures: Record<string, number>;
}

/** `CALLS` questions arriving at a steady `CALLS_PER_SECOND`; `fault` runs once a fifth of them are answered. */
async function trafficThrough(st: Stack, fault: () => Promise<void>): Promise<Outcome> {
  // The SDK's own retry loop (429/5xx/connection errors, honouring retry-after), given room for a 10 s outage.
  const outcome: Outcome = {
    answered: 0,
    failedAttempts: 0,
    heldThroughOutage: 0,
    slowestMs: 0,
    wrongAnswers: [],
    failures: {},
  };
  const countingFetch: typeof fetch = async (input, init) => {
    try {
      const res = await fetch(input, init);
      if (res.status >= 429) outcome.failedAttempts++;
      return res;
    } catch (err) {
      outcome.failedAttempts++;
      throw err;
    }
  };
  const client = new OpenAI({
    apiKey: st.key,
    baseURL: st.baseURL,
    maxRetries: 12,
    timeout: 45_000,
    fetch: countingFetch,
  });
  const ask = async (i: number) => {
    const question = `${st.s.id} question ${i}`;
    const started = performance.now();
    try {
      // As most applications call it: no Idempotency-Key (the SDK sends none), so each retry is a new request.
      const c = await client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: question }],
        max_tokens: 30,
      });
      outcome.answered++;
      const ms = performance.now() - started;
      outcome.slowestMs = Math.max(outcome.slowestMs, Math.round(ms));
      if (ms > OUTAGE_MS / 2) outcome.heldThroughOutage++;
      if (!c.choices[0]?.message.content?.includes(question)) outcome.wrongAnswers.push(question);
    } catch (err) {
      const why = err instanceof OpenAI.APIError ? `${err.status}:${err.code ?? err.type}` : String(err);
      outcome.failures[why] = (outcome.failures[why] ?? 0) + 1;
    }
  };
  const calls: Promise<void>[] = [];
  const arrivals = (async () => {
    const t0 = performance.now();
    while (calls.length < CALLS) {
      const due = Math.min(CALLS, Math.floor(((performance.now() - t0) / 1000) * CALLS_PER_SECOND) + 1);
      while (calls.length < due) calls.push(ask(calls.length));
      await sleep(20); // the pace of arrivals, not a wait for a condition
    }
  })();
  while (outcome.answered < CALLS / 5 && Object.keys(outcome.failures).length === 0) await sleep(100);
  await fault();
  await arrivals;
  await Promise.all(calls);
  return outcome;
}

/** What the API and the database hold now, to tell one fault's calls from those before it. */
async function snapshot(
  st: Stack,
): Promise<{ apiCalls: Record<string, number>; stored: Map<string, number> }> {
  const rows = await st.db.query<{ request_id: string; n: string }>(
    "select request_id, count(*) as n from replies group by request_id",
  );
  return {
    apiCalls: st.fake.stats().completions_by_client_request_id,
    stored: new Map(rows.map((r) => [r.request_id, Number(r.n)])),
  };
}

async function expectEveryCallAnsweredOnce(
  st: Stack,
  before: Awaited<ReturnType<typeof snapshot>>,
  outcome: Outcome,
): Promise<void> {
  const after = await snapshot(st);
  const ours = Object.entries(after.apiCalls).filter(([id]) => before.apiCalls[id] === undefined);
  const stored = [...after.stored].filter(([id]) => !before.stored.has(id));
  const ready = await fetch(`${await st.gateway.url}/readyz`).then((r) => r.status);
  const workerHealth = await fetch(`${await st.worker.metricsUrl}/healthz`).then((r) => r.status);
  const { failedAttempts, heldThroughOutage, slowestMs } = outcome;
  console.log(
    `[gateway fault ${st.s.id}] ${JSON.stringify({ failedAttempts, heldThroughOutage, slowestMs })}`,
  );
  // Calls either waited the outage out at the gateway or were refused and retried by the SDK: if neither, the
  // outage never met the traffic and this run proved nothing.
  expect(failedAttempts + heldThroughOutage, "the outage never met the calls").toBeGreaterThan(0);
  expect({
    answered: outcome.answered,
    wrongAnswers: outcome.wrongAnswers,
    failures: outcome.failures,
    apiAnsweredRequests: ours.length,
    apiCalledTwice: ours.filter(([, n]) => n > 1).length,
    storedReplies: stored.length,
    storedTwice: stored.filter(([, n]) => n > 1).length,
    gatewayReady: ready,
    workerHealthy: workerHealth,
  }).toEqual({
    answered: CALLS,
    wrongAnswers: [],
    failures: {},
    apiAnsweredRequests: CALLS,
    apiCalledTwice: 0,
    storedReplies: CALLS,
    storedTwice: 0,
    gatewayReady: 200,
    workerHealthy: 200,
  });
}

const FAULTS: {
  title: string;
  stop: (st: Stack) => Promise<void>;
  start: (st: Stack) => Promise<void>;
}[] = [
  {
    title: "Kafka stopped for 10 s",
    stop: (st) => st.kafka.stop("term"),
    start: (st) => st.kafka.start(),
  },
  {
    title: "Postgres stopped (immediate) for 10 s",
    stop: (st) => st.postgres.stop("immediate"),
    start: (st) => st.postgres.start(),
  },
  {
    title: "Redis killed for 10 s (and back empty)",
    stop: (st) => st.redis.stop("kill"),
    start: (st) => st.redis.start(),
  },
];

// One stack for the three faults in turn: each fault's calls carry their own ids, and the stack starting once
// keeps the file's time to what the faults take.
describe("the gateway under openai-SDK traffic while a dependency stops and comes back", () => {
  let st: Stack | undefined;
  beforeAll(async () => {
    st = await startStack("gw_fault");
  });
  afterAll(async () => {
    await stopStack(st);
  });

  for (const f of FAULTS) {
    it(`${f.title}: every SDK call gets its answer, the API answers each question once`, async () => {
      const stack = st as Stack;
      const before = await snapshot(stack);
      const outcome = await trafficThrough(stack, async () => {
        await f.stop(stack);
        await sleep(OUTAGE_MS);
        await f.start(stack);
      });
      await expectEveryCallAnsweredOnce(stack, before, outcome);
    }, 180_000);
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
