import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { ChatRequest } from "@chatq/contracts";
import { type FakeOpenAI, startFakeOpenAI } from "@chatq/fake-openai";
import { createKafka, createRecordProducer } from "@chatq/kafka";
import { TenantError, TenantStore } from "@chatq/tenants";
import type { CliEnv } from "./cli-config.ts";
import { follow } from "./follow.ts";
import { formatReply } from "./format-reply.ts";
import { encryptionEnv } from "./local-master-key.ts";
import { buildRequest, publishRequests } from "./publish.ts";

const repoRoot = resolve(import.meta.dirname, "../../..");

/** A short multi-turn conversation, two single questions (one batch), and one message the worker must refuse. */
function sampleRequests(useFakeMarkers: boolean): { label: string; request: ChatRequest }[] {
  const trip = `demo-lisbon-${Date.now().toString(36)}`;
  const system = "You are a concise travel assistant.";
  return [
    {
      label: "trip, turn 1",
      request: buildRequest({
        conversation: trip,
        system,
        message: "I have two days in Lisbon. What should I see?",
      }),
    },
    {
      label: "trip, turn 2",
      request: buildRequest({ conversation: trip, message: "Where should I eat on the second evening?" }),
    },
    {
      label: "trip, turn 3",
      request: buildRequest({ conversation: trip, message: "Summarise the plan in one sentence." }),
    },
    {
      label: "translation",
      request: buildRequest({
        message: "Translate 'good morning' to Spanish.",
        tenant: "acme",
        maxTokens: 40,
      }),
    },
    {
      label: "batch job",
      request: buildRequest({
        message: useFakeMarkers
          ? "Classify this support ticket: 'my invoice is wrong' [[fail:503x1]] (the fake API fails it once: watch the retry)"
          : "Classify this support ticket: 'my invoice is wrong'",
        priority: "batch",
        tenant: "acme",
      }),
    },
  ];
}

export async function runDemo(env: CliEnv, opts: { exitWhenDone: boolean }): Promise<void> {
  const useRealApi = env.openaiApiKey !== undefined && env.openaiBaseUrl === undefined;
  let fake: FakeOpenAI | undefined;
  let baseUrl = env.openaiBaseUrl;
  let apiKey = env.openaiApiKey ?? "sk-chatq-demo";
  if (!useRealApi && baseUrl === undefined) {
    fake = await startFakeOpenAI({ apiKey, latencyMs: 300, jitterMs: 200, port: 0 });
    baseUrl = fake.url;
    say(`fake OpenAI API on ${fake.url} (set OPENAI_API_KEY without OPENAI_BASE_URL to use the real one)`);
  } else {
    say(useRealApi ? "using the real OpenAI API" : `using the OpenAI-compatible API at ${baseUrl}`);
    apiKey = env.openaiApiKey ?? apiKey;
  }

  const stateDir = join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local/state"), "chatq");
  mkdirSync(stateDir, { recursive: true });
  const logPath = join(stateDir, "demo-worker.log");
  const worker = spawnWorker(env, { apiKey, baseUrl }, logPath);
  say(`worker starting (its JSON log: ${logPath})`);
  await worker.started.catch(async () => {
    await fake?.close();
    quitBecauseWorkerDied(await worker.exited, worker, logPath);
  });
  say(`worker ready: metrics http://127.0.0.1:${env.metricsPort}/metrics, health /readyz`);

  const samples = sampleRequests(fake !== undefined);
  const labels = new Map(samples.map((s) => [s.request.request_id, s.label]));
  let answered = 0;
  let allAnswered: () => void = () => {};
  const done = new Promise<void>((r) => {
    allAnswered = r;
  });
  const following = await follow(env, false, (m) => {
    if (m.kind === "dead-letter") {
      say(`☠ dead-lettered (${m.code}): ${m.message} — value: ${m.value}`);
      return;
    }
    say(formatReply(m.reply, labels.get(m.reply.request_id) ?? m.reply.request_id));
    if (labels.has(m.reply.request_id) && ++answered === samples.length) allAnswered();
  });

  await publishRequests(
    env,
    samples.map((s) => s.request),
  );
  await publishBadMessage(env);
  say(
    `published ${samples.length} requests and 1 malformed message to ${env.topics.requests}; replies follow:\n`,
  );
  // A worker that dies (or waits on something) must not leave the demo hanging without a word.
  const progress = setInterval(() => {
    void readiness(env.metricsPort).then((ready) =>
      say(
        `… ${samples.length - answered} of ${samples.length} replies still to come; the worker's /readyz: ${ready}`,
      ),
    );
  }, 15_000);
  const ended = await Promise.race([done.then(() => undefined), worker.exited]);
  clearInterval(progress);
  if (ended !== undefined) {
    await following.stop();
    await fake?.close();
    quitBecauseWorkerDied(ended, worker, logPath);
  }

  const gatewayLog = join(stateDir, "demo-gateway.log");
  const gateway = spawnGateway(env, gatewayLog);
  const gatewayKey = await gateway.started.then(
    () => demoTenantKey(env),
    async () => undefined,
  );
  if (gatewayKey === undefined) {
    say(`the gateway did not start (its log: ${gatewayLog}); the Kafka path above works without it`);
  } else {
    const gatewayUrl = `http://127.0.0.1:${env.gatewayPort}`;
    const answer = await askGateway(gatewayUrl, gatewayKey);
    say(`
The HTTP gateway is up on ${gatewayUrl} (its log: ${gatewayLog}). Asked over HTTP: ${answer}
  curl -s ${gatewayUrl}/v1/chat/completions -H 'Authorization: Bearer ${gatewayKey}' -H 'Content-Type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'
  chat page: ${gatewayUrl}/  (sign in with the key above; the tenant is "demo")`);
  }
  say(`
All ${samples.length} sample requests answered. Try it yourself${opts.exitWhenDone ? " (run `pnpm demo` to keep a worker running)" : ""}:
  pnpm chatq publish --conversation ${samples[0]?.request.conversation_id} "And on day three?"
  pnpm chatq follow                      # replies and dead letters as they arrive
  curl -s http://127.0.0.1:${env.metricsPort}/metrics | grep ^chatq_
  curl -s http://127.0.0.1:${env.metricsPort}/readyz
  psql ${env.databaseUrl} -c 'select event, count(*) from audit_log group by 1'
Any producer can publish: JSON to '${env.topics.requests}', key = conversation_id; schema in packages/contracts/schema/.
`);
  if (!opts.exitWhenDone) {
    say("Press Ctrl-C to stop the worker and exit.");
    const stopped = await Promise.race([
      new Promise<undefined>((r) => {
        process.once("SIGINT", () => r(undefined));
        process.once("SIGTERM", () => r(undefined));
      }),
      worker.exited,
    ]);
    if (stopped !== undefined) {
      await following.stop();
      await fake?.close();
      quitBecauseWorkerDied(stopped, worker, logPath);
    }
  }
  await following.stop();
  gateway.process.kill("SIGTERM");
  await gateway.exited;
  worker.process.kill("SIGTERM");
  const code = await worker.exited;
  await fake?.close();
  say(`worker stopped (exit ${code}).`);
}

/** The demo tenant (made on first run) and a fresh key for it. */
async function demoTenantKey(env: CliEnv): Promise<string> {
  const store = new TenantStore({
    databaseUrl: env.databaseUrl,
    schema: env.databaseSchema,
    pepper: demoPepper(env),
  });
  try {
    await store.createTenant({ tenantId: "demo", rpm: 600 }).catch((err: unknown) => {
      if (!(err instanceof TenantError && err.code === "tenant_exists")) throw err;
    });
    return (await store.createKey("demo")).key;
  } finally {
    await store.close();
  }
}

/** One OpenAI-style call to the gateway, as curl would make it: the reply's text, or why there is none. */
async function askGateway(url: string, key: string): Promise<string> {
  try {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "Hello over HTTP" }],
      }),
      signal: AbortSignal.timeout(60_000),
    });
    const body = (await res.json()) as {
      choices?: { message: { content: string } }[];
      error?: { message: string };
    };
    return res.ok
      ? JSON.stringify(body.choices?.[0]?.message.content ?? "")
      : `HTTP ${res.status} ${body.error?.message}`;
  } catch (err) {
    return `no answer (${(err as Error).message})`;
  }
}

async function publishBadMessage(env: CliEnv): Promise<void> {
  const kafka = createKafka({ brokers: env.kafkaBrokers, clientId: "chatq-cli" });
  const producer = await createRecordProducer(kafka);
  await producer.send([{ topic: env.topics.requests, key: "demo-bad", value: "{this is not JSON" }]);
  await producer.disconnect();
}

function spawnWorker(env: CliEnv, api: { apiKey: string; baseUrl: string | undefined }, logPath: string) {
  return spawnService("worker", logPath, {
    ...stackEnv(env),
    OPENAI_API_KEY: api.apiKey,
    ...(api.baseUrl !== undefined && { OPENAI_BASE_URL: api.baseUrl }),
    METRICS_PORT: String(env.metricsPort),
    TOPIC_DLQ: env.topics.deadLetter,
    // The demo's gateway has a reply topic of its own.
    TOPIC_REPLIES_ALLOWED: `${env.topics.replies}.gateway.*`,
  });
}

function stackEnv(env: CliEnv): Record<string, string> {
  return {
    KAFKA_BROKERS: env.kafkaBrokers.join(","),
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    TOPIC_REQUESTS: env.topics.requests,
    TOPIC_REPLIES: env.topics.replies,
    ...encryptionEnv(env),
  };
}

/** A gateway in front of the demo's worker, with the demo's pepper unless GATEWAY_KEY_PEPPER is set. */
function spawnGateway(env: CliEnv, logPath: string) {
  return spawnService("gateway", logPath, {
    ...stackEnv(env),
    GATEWAY_PORT: String(env.gatewayPort),
    GATEWAY_KEY_PEPPER: demoPepper(env),
  });
}

function demoPepper(env: CliEnv): string {
  return env.keyPepper ?? "chatq-demo-pepper-not-a-secret";
}

/** One child process of the demo, its log appended to `logPath`; `started` resolves on its "<name> started" line. */
function spawnService(name: "worker" | "gateway", logPath: string, childEnv: Record<string, string>) {
  const log = createWriteStream(logPath, { flags: "a" });
  const child: ChildProcess = spawn(process.execPath, [join(repoRoot, `services/${name}/src/main.ts`)], {
    cwd: repoRoot,
    env: { ...process.env, ...childEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let announce: () => void = () => {};
  let fail: (err: Error) => void = () => {};
  const started = new Promise<void>((res, rej) => {
    announce = res;
    fail = rej;
  });
  let pending = "";
  const recent: string[] = [];
  const remember = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) recent.push(line);
    recent.splice(0, Math.max(0, recent.length - 200));
  };
  child.stdout?.on("data", (chunk: Buffer) => {
    log.write(chunk);
    remember(chunk);
    pending += chunk.toString("utf8");
    if (pending.includes(`"msg":"${name} started"`)) announce();
    pending = pending.slice(-4096);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    log.write(chunk);
    remember(chunk);
  });
  const exited = new Promise<number | null>((r) =>
    child.on("exit", (code) => {
      fail(new Error(`the ${name} exited (${code}) before it started; see ${logPath}`));
      r(code);
    }),
  );
  return { process: child, started, exited, lastWords: () => summarize(recent) };
}

/** Says why the worker died (its last error lines) and where its whole log is, then exits non-zero. */
function quitBecauseWorkerDied(
  code: number | null,
  worker: { lastWords(): string[] },
  logPath: string,
): never {
  const words = worker.lastWords();
  say(`\nthe worker exited (code ${code}) before the demo was done.`);
  if (words.length > 0) say(`its last words:\n${words.map((w) => `  ${w}`).join("\n")}`);
  say(`its whole log: ${logPath}`);
  process.exit(1);
}

/** The worker's /readyz, in one line (which check fails and why), or why it could not be read. */
async function readiness(port: number): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
    return `${res.status} ${JSON.stringify(await res.json())}`;
  } catch (err) {
    return `no answer (${(err as Error).message})`;
  }
}

/** The last error-level lines of a JSON log (message and error), else its last lines as they are. */
function summarize(lines: readonly string[]): string[] {
  const errors: string[] = [];
  for (const line of lines) {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      if ((entry.level ?? 0) >= 50) errors.push([entry.msg, entry.err?.message].filter(Boolean).join(": "));
    } catch {
      // not JSON: a crash trace on stderr; the raw lines below show it
    }
  }
  return (errors.length > 0 ? errors : lines).slice(-6);
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}
