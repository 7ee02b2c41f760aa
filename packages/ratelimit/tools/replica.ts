/**
 * One worker replica driving the limiter as hard as it can, run as its own OS process
 * (`child_process.fork`) by the integration test and by bench/shared-budget.ts.
 *
 * argv[2] is a ReplicaConfig as JSON. Each of `concurrency` loops does: acquire → (optionally) call
 * `target` over HTTP → holdBack on 429 / observe the headers → again, until told to stop.
 * Parent → child IPC: { type: "start" } | { type: "holdBack", ms } | { type: "progress" } | { type: "stop" }.
 * Child → parent IPC: { type: "ready" } once connected; { type: "held", sentAt, writtenAt } once a holdBack is
 * in Redis (Date.now() before it was sent and after Redis had it); { type: "progress", grants } for each
 * "progress" (so a test waits on a count instead of sleeping); { type: "done", report } after stop.
 */
import type { Priority } from "../src/index.ts";
import { createRateLimiter, parseRateLimitHeaders, parseRetryAfter } from "../src/index.ts";

export interface ReplicaConfig {
  name: string;
  redisUrl?: string;
  keyPrefix?: string;
  limits: { rpm: number; tpm: number };
  burstSliceMs?: number;
  jitterMarginMs?: number;
  model: string;
  priority: Priority;
  concurrency: number;
  /** Each acquisition asks for a uniform random count in [min, max]. */
  tokens: { min: number; max: number };
  /** An OpenAI-like endpoint that answers 200 or 429 with x-ratelimit-* headers. */
  target?: string;
}

export interface ReplicaGrant {
  /** Date.now() when the permit resolved. */
  at: number;
  tokens: number;
  priority: Priority;
  waitedMs: number;
}

export interface ReplicaReport {
  name: string;
  grants: ReplicaGrant[];
  statuses: Record<string, number>;
  /** Tokens of the calls the target answered with 200. */
  answeredTokens: number;
  errors: string[];
}

type ParentMessage =
  | { type: "start" }
  | { type: "holdBack"; ms: number }
  | { type: "progress" }
  | { type: "stop" };

const config = JSON.parse(process.argv[2] ?? "{}") as ReplicaConfig;
const send = (msg: unknown) => process.send?.(msg);

const errors: string[] = [];
const limiter = await createRateLimiter({
  limits: { default: config.limits },
  ...(config.redisUrl !== undefined && {
    redis: { url: config.redisUrl, ...(config.keyPrefix !== undefined && { keyPrefix: config.keyPrefix }) },
  }),
  ...(config.burstSliceMs !== undefined && { burstSliceMs: config.burstSliceMs }),
  ...(config.jitterMarginMs !== undefined && { jitterMarginMs: config.jitterMarginMs }),
  maxQueued: 1_000_000,
  onError: (err) => errors.push(String(err)),
});

const grants: ReplicaGrant[] = [];
const statuses: Record<string, number> = {};
let answeredTokens = 0;
const stop = new AbortController();

async function callTarget(target: string, tokens: number, grantedAt: number): Promise<void> {
  const res = await fetch(target, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: config.model, tokens, replica: config.name, grantedAt }),
  });
  await res.arrayBuffer();
  statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  if (res.status === 200) answeredTokens += tokens;
  limiter.observe(config.model, parseRateLimitHeaders(res.headers));
  if (res.status === 429) limiter.holdBack(config.model, parseRetryAfter(res.headers) ?? 1000);
}

async function loop(): Promise<void> {
  const { min, max } = config.tokens;
  while (!stop.signal.aborted) {
    const tokens = min + Math.floor(Math.random() * (max - min + 1));
    try {
      const permit = await limiter.acquire({
        model: config.model,
        tokens,
        priority: config.priority,
        signal: stop.signal,
      });
      const at = Date.now();
      grants.push({ at, tokens, priority: config.priority, waitedMs: permit.waitedMs });
      if (config.target !== undefined) await callTarget(config.target, tokens, at);
    } catch (err) {
      if (!stop.signal.aborted) errors.push(String(err));
    }
  }
}

const loops: Promise<void>[] = [];
process.on("message", (msg: ParentMessage) => {
  if (msg.type === "start") {
    for (let i = 0; i < config.concurrency; i++) loops.push(loop());
  } else if (msg.type === "holdBack") {
    const sentAt = Date.now();
    limiter.holdBack(config.model, msg.ms);
    // Commands on one Redis connection run in order: once this acquisition is answered, the hold is in Redis.
    void limiter.acquire({ model: `${config.model}-probe`, tokens: 0, priority: "batch" }).then(() => {
      send({ type: "held", sentAt, writtenAt: Date.now() });
    });
  } else if (msg.type === "progress") {
    send({ type: "progress", grants: grants.length });
  } else if (msg.type === "stop") {
    stop.abort();
    void Promise.all(loops).then(async () => {
      await limiter.close();
      const report: ReplicaReport = { name: config.name, grants, statuses, answeredTokens, errors };
      // Disconnect only once the (possibly large) report is written out.
      process.send?.({ type: "done", report }, () => process.disconnect?.());
    });
  }
});
send({ type: "ready" });
