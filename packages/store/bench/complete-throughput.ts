// How many outcomes per second complete() stores, by group size and groups in flight; plus admit() and the audit
// writer for comparison. Prints figures, asserts nothing. Uses a throwaway schema, dropped at the end.
//   pnpm --filter @chatq/store bench           (DATABASE_URL defaults to the local chatq_test database)
import { randomUUID } from "node:crypto";
import type { ChatRequest } from "@chatq/contracts";
import pg from "pg";
import { createStore, migrate, type Outcome, type ReceivedRequest, type Store } from "../src/index.ts";

// A bench is an entry point, like a CLI: the one place it reads its environment.
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/chatq_test";
const total = Number(process.env.BENCH_OUTCOMES ?? 4000);
const schema = `bench_${randomUUID().replaceAll("-", "").slice(0, 10)}`;

const words = "the quick brown fox jumps over the lazy dog while the worker keeps its budget".split(" ");
const text = (n: number) => Array.from({ length: n }, (_, i) => words[i % words.length]).join(" ");
const question = text(60); // ~ 350 characters
const answer = text(120); // ~ 700 characters

function makeRequests(n: number, tag: string): ChatRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    request_id: `${tag}-${i}`,
    // Half the requests belong to a conversation, 4 requests per conversation.
    ...(i % 2 === 0 ? { conversation_id: `${tag}-c${Math.floor(i / 8)}` } : {}),
    tenant: `tenant-${i % 5}`,
    user_id: `user-${i % 97}`,
    messages: [
      { role: "system", content: "You answer briefly." },
      { role: "user", content: question },
    ],
  }));
}

const received = (r: ChatRequest, i: number): ReceivedRequest => ({
  request: r,
  model: "gpt-4o-mini",
  priority: "interactive",
  source: { topic: "chat.requests", partition: i % 12, offset: String(i) },
  receivedAt: new Date(),
});

const outcome = (r: ChatRequest, i: number): Outcome => ({
  request: r,
  model: "gpt-4o-mini",
  reply: {
    request_id: r.request_id,
    ...(r.conversation_id === undefined ? {} : { conversation_id: r.conversation_id }),
    status: i % 20 === 0 ? "failed" : "completed",
    ...(i % 20 === 0
      ? { error: { code: "server_error", message: "upstream 500", retryable: true } }
      : { content: answer, finish_reason: "stop" }),
    usage: { prompt_tokens: 120, completion_tokens: 160, total_tokens: 280 },
    cost_usd: 0.000114,
    latency_ms: 812,
    attempts: 1,
  },
  newTurns: r.messages.slice(1),
  usage: { prompt_tokens: 120, completion_tokens: 160, total_tokens: 280 },
  costUsd: 0.000114,
  apiMs: 790,
  attempts: 1,
  finishedAt: new Date(),
});

function chunks<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** Runs `groups` with `inFlight` at a time; returns items per second and mean milliseconds per group. */
async function run<T>(
  groups: T[][],
  inFlight: number,
  fn: (g: T[]) => Promise<unknown>,
): Promise<{ perSecond: string; msPerGroup: string }> {
  const queue = [...groups];
  const n = groups.reduce((s, g) => s + g.length, 0);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let g = queue.shift(); g !== undefined; g = queue.shift()) await fn(g);
    }),
  );
  const ms = performance.now() - started;
  return {
    perSecond: (n / (ms / 1000)).toFixed(0),
    msPerGroup: ((ms * inFlight) / groups.length).toFixed(1),
  };
}

async function main(): Promise<void> {
  await migrate({ databaseUrl, schema });
  const store: Store = await createStore({
    databaseUrl,
    schema,
    poolSize: 8,
    applicationName: "chatq-store-bench",
  });
  const rows: Record<string, string>[] = [];
  try {
    for (const admitBatch of [100, 500]) {
      const reqs = makeRequests(total, `admit${admitBatch}`);
      const r = await run(chunks(reqs.map(received), admitBatch), 1, (g) => store.admit(g));
      rows.push({ operation: "admit", group: String(admitBatch), inFlight: "1", ...r });
    }
    for (const group of [50, 200]) {
      for (const inFlight of [1, 4]) {
        const tag = `c${group}x${inFlight}`;
        const reqs = makeRequests(total, tag);
        for (const g of chunks(reqs.map(received), 500)) await store.admit(g);
        // Same-conversation requests complete in order in the worker; chunks keep that order here too.
        const r = await run(chunks(reqs.map(outcome), group), inFlight, (g) => store.complete(g));
        rows.push({ operation: "complete", group: String(group), inFlight: String(inFlight), ...r });
      }
    }
    {
      const n = total * 5;
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        store.audit.append({
          event: "attempt_started",
          requestId: `a-${i}`,
          attempt: 1,
          detail: { model: "m" },
          at: new Date(),
        });
        if (i % 500 === 499) await new Promise((r) => setImmediate(r));
      }
      await store.audit.flush();
      const perSecond = (n / ((performance.now() - started) / 1000)).toFixed(0);
      rows.push({ operation: "audit.append+flush", group: "500", inFlight: "1", perSecond, msPerGroup: "" });
    }
  } finally {
    await store.close();
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`drop schema ${schema} cascade`);
    await admin.end();
  }
  console.log(
    `store bench: ${total} items per row, Postgres at ${new URL(databaseUrl).host}, rows per second, mean ms per group (with inFlight groups overlapping)`,
  );
  console.table(rows);
}

await main();
