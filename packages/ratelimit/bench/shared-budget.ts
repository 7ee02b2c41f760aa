/**
 * Replicas (separate OS processes) share one budget through Redis and call a stand-in for OpenAI
 * that enforces the per-minute limits pro rata over 1 s slices. Prints how much of the budget they
 * used and how many calls got a 429.
 *
 *   pnpm exec node packages/ratelimit/bench/shared-budget.ts [seconds=40] [enforcer=fixed|sliding|both]
 *
 * This is the limiter alone, against a minimal enforcer written here; the end-to-end version with
 * real workers and services/fake-openai is `pnpm bench ratelimit`.
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import type { ReplicaConfig, ReplicaReport } from "../tools/replica.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    enforcers: { type: "string", default: "bucket,sliding" },
    scenarios: { type: "string", default: "RPM-bound,TPM-bound,one-worker" },
    margin: { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});
const seconds = Number(args.seconds);
const kinds = args.enforcers.split(",") as EnforcerKind[];
const SLICE_MS = 1000;

type EnforcerKind = "bucket" | "sliding" | "fixed";

interface Scenario {
  name: string;
  limits: { rpm: number; tpm: number };
  tokens: { min: number; max: number };
  replicas: number;
  /** Concurrent calls per replica: enough to always want more than the budget. */
  concurrency: number;
}

const scenarios: Scenario[] = [
  // The brief's small budget: 3 replicas must reach >= 95% of RPM with < 1% of calls refused.
  {
    name: "RPM-bound",
    limits: { rpm: 600, tpm: 120_000 },
    tokens: { min: 50, max: 250 },
    replicas: 3,
    concurrency: 30,
  },
  // Same budget, bigger requests: the tokens run out first.
  {
    name: "TPM-bound",
    limits: { rpm: 600, tpm: 120_000 },
    tokens: { min: 200, max: 600 },
    replicas: 3,
    concurrency: 30,
  },
  // One worker at the brief's large budget: must sustain >= 400 answers/s.
  {
    name: "one-worker",
    limits: { rpm: 30_000, tpm: 150_000_000 },
    tokens: { min: 100, max: 1000 },
    replicas: 1,
    concurrency: 100,
  },
];

/** One dimension (requests or tokens) of an enforcer: charged at arrival, and only if admitted. */
interface Dimension {
  /** 0 when `cost` fits now, else ms until it would. */
  check(now: number, cost: number): number;
  take(now: number, cost: number): void;
}

/** services/fake-openai's rule: a bucket of limit × slice / 60 000, refilled continuously. */
function bucket(perMinute: number): Dimension {
  const capacity = (perMinute * SLICE_MS) / 60_000;
  const perMs = capacity / SLICE_MS;
  let level = capacity;
  let at = 0;
  const refill = (now: number) => {
    level = Math.min(capacity, level + (now - at) * perMs);
    at = now;
  };
  return {
    check(now, cost) {
      refill(now);
      const needed = Math.min(cost, capacity);
      return level + 1e-9 >= needed ? 0 : Math.ceil((needed - level) / perMs);
    },
    take(now, cost) {
      refill(now);
      level -= cost;
    },
  };
}

/** Stricter readings of "per 1 s slice": at most the share in any 1 s interval, or per wall-clock second. */
function slices(perMinute: number, fixed: boolean): Dimension {
  const perSlice = Math.floor((perMinute * SLICE_MS) / 60_000);
  const log: { at: number; cost: number }[] = [];
  return {
    check(now, cost) {
      const from = fixed ? now - (now % SLICE_MS) : now - SLICE_MS + 1;
      while (log.length > 0 && (log[0] as { at: number }).at < now - SLICE_MS) log.shift();
      const used = log.filter((e) => e.at >= from).reduce((n, e) => n + e.cost, 0);
      if (used + cost <= perSlice) return 0;
      return fixed
        ? SLICE_MS - (now % SLICE_MS)
        : Math.max(1, ((log[0] as { at: number }).at ?? now) + SLICE_MS - now);
    },
    take(now, cost) {
      log.push({ at: now, cost });
    },
  };
}

/**
 * OpenAI stand-in: admits a call only if both its request and its tokens fit, answers 429 with
 * retry-after-ms otherwise, and reports x-ratelimit-* in per-minute terms like OpenAI. Answers
 * after 20–120 ms, like a short completion.
 */
function startEnforcer(kind: EnforcerKind, limits: { rpm: number; tpm: number }) {
  const make = (perMinute: number) =>
    kind === "bucket" ? bucket(perMinute) : slices(perMinute, kind === "fixed");
  const requests = make(limits.rpm);
  const tokensDim = make(limits.tpm);
  let minuteR = 0;
  let minuteT = 0;
  let minute = -1;
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const call = JSON.parse(Buffer.concat(chunks).toString()) as {
        tokens: number;
        replica: string;
        grantedAt: number;
      };
      const tokens = call.tokens;
      const now = Date.now();
      if (Math.floor(now / 60_000) !== minute) {
        minute = Math.floor(now / 60_000);
        minuteR = 0;
        minuteT = 0;
      }
      const retryAfterMs = Math.max(requests.check(now, 1), tokensDim.check(now, tokens));
      if (retryAfterMs === 0) {
        requests.take(now, 1);
        tokensDim.take(now, tokens);
        minuteR++;
        minuteT += tokens;
      }
      const reset = `${((60_000 - (now % 60_000)) / 1000).toFixed(3)}s`;
      const headers = {
        "x-ratelimit-limit-requests": String(limits.rpm),
        "x-ratelimit-limit-tokens": String(limits.tpm),
        "x-ratelimit-remaining-requests": String(Math.max(0, limits.rpm - minuteR)),
        "x-ratelimit-remaining-tokens": String(Math.max(0, limits.tpm - minuteT)),
        "x-ratelimit-reset-requests": reset,
        "x-ratelimit-reset-tokens": reset,
      };
      if (args.verbose) {
        const verdict = retryAfterMs > 0 ? "429" : "200";
        console.log(`${verdict} at ${now} from ${call.replica} granted ${now - call.grantedAt} ms earlier`);
      }
      if (retryAfterMs > 0) {
        res.writeHead(429, { ...headers, "retry-after-ms": String(retryAfterMs) });
        res.end("{}");
        return;
      }
      setTimeout(
        () => {
          res.writeHead(200, headers);
          res.end("{}");
        },
        20 + Math.random() * 100,
      );
    });
  });
}

async function runScenario(s: Scenario, kind: EnforcerKind) {
  const server = startEnforcer(kind, s.limits);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const keyPrefix = `bench:shared:${process.pid}:${Date.now()}:`;
  const children = Array.from({ length: s.replicas }, (_, i) => {
    const cfg: ReplicaConfig = {
      name: `replica-${i}`,
      redisUrl: REDIS_URL,
      keyPrefix,
      limits: s.limits,
      model: "gpt-bench",
      priority: i === 0 ? "interactive" : "batch",
      concurrency: s.concurrency,
      ...(args.margin !== undefined && { jitterMarginMs: Number(args.margin) }),
      tokens: s.tokens,
      target: `http://127.0.0.1:${port}/v1/chat/completions`,
    };
    return fork(new URL("../tools/replica.ts", import.meta.url), [JSON.stringify(cfg)], { stdio: "inherit" });
  });
  await Promise.all(children.map((c) => once(c, "message")));
  const started = Date.now();
  for (const c of children) c.send({ type: "start" });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const stopped = Date.now();
  const reports = await Promise.all(
    children.map(async (c) => {
      c.send({ type: "stop" });
      for (;;) {
        const [msg] = (await once(c, "message")) as [{ type: string; report: ReplicaReport }];
        if (msg.type === "done") return msg.report;
      }
    }),
  );
  server.close();
  const elapsedMin = (stopped - started) / 60_000;
  const ok = reports.reduce((n, r) => n + (r.statuses["200"] ?? 0), 0);
  const limited = reports.reduce((n, r) => n + (r.statuses["429"] ?? 0), 0);
  const okTokens = reports.reduce((n, r) => n + r.answeredTokens, 0);
  const perMin = ok / elapsedMin;
  const tokensPerMin = okTokens / elapsedMin;
  return {
    scenario: s.name,
    enforcer: kind,
    seconds: ((stopped - started) / 1000).toFixed(1),
    "answered/s": Number((perMin / 60).toFixed(1)),
    "% of RPM": ((100 * perMin) / s.limits.rpm).toFixed(1),
    "% of TPM": ((100 * tokensPerMin) / s.limits.tpm).toFixed(1),
    "429s": limited,
    "% 429": ((100 * limited) / Math.max(1, ok + limited)).toFixed(2),
    "per replica": reports.map((r) => r.statuses["200"] ?? 0).join("/"),
    errors: reports.reduce((n, r) => n + r.errors.length, 0),
  };
}

const rows = [];
for (const s of scenarios.filter((x) => args.scenarios.split(",").includes(x.name))) {
  for (const k of kinds) {
    const row = await runScenario(s, k);
    console.log(JSON.stringify(row));
    rows.push(row);
  }
}
console.table(rows);
