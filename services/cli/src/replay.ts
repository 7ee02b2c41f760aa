import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { createKafka, createRecordProducer, type RecordProducer } from "@chatq/kafka";
import { createReplayStore, type ReplayFilter, type ReplayJob, type ReplayStore } from "@chatq/store";
import { loadKeyWrapper } from "@chatq/vault";
import type { CliEnv } from "./cli-config.ts";
import { type Progress, progressFor } from "./progress.ts";
import { replayRequest } from "./replay-request.ts";

export const REPLAY_USAGE = `  replay [filters] [--model M | --route R] [--topic T] [--max N]
                                         re-publish stored requests as new ones (replay_of = the
                                         original, batch priority) to the reprocessing topic
                                         (TOPIC_REPLAY, default chat.requests.replay); filters:
      --since 7d|2026-12-01  --until …  --tenant T  --conversation C  --from-model M
      --status completed|failed|rejected|pending  --ids a,b,c
  replay --resume <job>                  go on after a stop (Ctrl-C, --max): each request once`;

const CHUNK = 500;

class ReplayUsageError extends Error {}

/** `chatq replay`: returns the exit code. Ctrl-C stops after the chunk in flight; the job can be resumed. */
export async function runReplay(args: string[], env: CliEnv, out: (line: string) => void): Promise<number> {
  let options: ReturnType<typeof parseReplayArgs>;
  try {
    options = parseReplayArgs(args, new Date());
  } catch (err) {
    if (!(err instanceof ReplayUsageError) && !(err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))
      throw err;
    out(`${(err as Error).message}\n\nusage: chatq\n${REPLAY_USAGE}`);
    return 2;
  }
  // Stored requests are sealed when encryption is on: the replay opens them with the same master key.
  const wrapper = await loadKeyWrapper(env.encryption);
  const store = createReplayStore({
    databaseUrl: env.databaseUrl,
    applicationName: "chatq-replay",
    ...(wrapper !== undefined && { encryption: { wrapper } }),
    ...(env.databaseSchema !== undefined && { schema: env.databaseSchema }),
  });
  const kafka = createKafka({ brokers: env.kafkaBrokers, clientId: "chatq-replay" });
  const producer = await createRecordProducer(kafka);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const job = await openJob(store, options, env);
    if (job.status === "done") {
      out(JSON.stringify({ job: job.jobId, status: "done", published: job.published, total: job.total }));
      return 0;
    }
    const progress = progressFor(`replay ${job.jobId.slice(0, 8)}`, job.total, job.published, out);
    const end = await publishAll(job, options, { store, producer, progress, signal: stop.signal });
    progress.stop();
    await store.setStatus(job.jobId, end.status);
    out(
      JSON.stringify({
        job: job.jobId,
        status: end.status,
        published: end.published,
        total: job.total,
        topic: job.topic,
      }),
    );
    if (end.status === "stopped") out(`stopped; resume with: chatq replay --resume ${job.jobId}`);
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await producer.disconnect();
    await store.close();
  }
}

interface ReplayOptions {
  resume: string | undefined;
  filter: ReplayFilter;
  model: string | undefined;
  topic: string | undefined;
  max: number | undefined;
}

export function parseReplayArgs(args: string[], now: Date): ReplayOptions {
  const { values } = parseArgs({
    args,
    options: {
      resume: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      tenant: { type: "string" },
      conversation: { type: "string" },
      "from-model": { type: "string" },
      status: { type: "string" },
      ids: { type: "string" },
      model: { type: "string" },
      route: { type: "string" },
      topic: { type: "string" },
      max: { type: "string" },
    },
  });
  if (values.model !== undefined && values.route !== undefined) {
    throw new ReplayUsageError("give --model or --route, not both (a route is a model name to the worker)");
  }
  const statuses = ["completed", "failed", "rejected", "pending"];
  if (values.status !== undefined && !statuses.includes(values.status)) {
    throw new ReplayUsageError(`--status must be one of ${statuses.join(", ")}`);
  }
  const max = values.max === undefined ? undefined : Number(values.max);
  if (max !== undefined && !(Number.isInteger(max) && max > 0))
    throw new ReplayUsageError("--max must be a positive integer");
  const ids = values.ids
    ?.split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return {
    resume: values.resume,
    filter: {
      since: values.since === undefined ? undefined : pointInTime(values.since, now),
      // Fixed now, so the job never picks up requests published after it started (its own replays included).
      until: pointInTime(values.until ?? now.toISOString(), now),
      tenant: values.tenant,
      conversation: values.conversation,
      model: values["from-model"],
      status: values.status,
      ids,
    },
    model: values.model ?? values.route,
    topic: values.topic,
    max,
  };
}

/** `7d`, `12h`, `30m` before now, or a date/time. */
export function pointInTime(text: string, now: Date): string {
  const rel = /^(\d+)([dhm])$/.exec(text);
  if (rel) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[rel[2] as "d" | "h" | "m"];
    return new Date(now.getTime() - Number(rel[1]) * unit).toISOString();
  }
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new ReplayUsageError(`not a time: ${text} (use 7d, 12h, or a date)`);
  return new Date(t).toISOString();
}

async function openJob(store: ReplayStore, o: ReplayOptions, env: CliEnv): Promise<ReplayJob> {
  if (o.resume !== undefined) {
    const job = await store.job(o.resume);
    if (job === undefined) throw new ReplayUsageError(`no replay job ${o.resume}`);
    await store.setStatus(job.jobId, job.status === "done" ? "done" : "running");
    return job;
  }
  const jobId = randomUUID();
  const total = await store.count(o.filter);
  const filter = { ...o.filter, ...(o.model !== undefined && { to_model: o.model }) };
  const topic = o.topic ?? env.topics.replay;
  await store.createJob({ jobId, kind: "requests", filter, topic, total });
  const job = await store.job(jobId);
  if (job === undefined) throw new Error("the replay job was not stored");
  return job;
}

/**
 * Chunk by chunk, in the job's order: publish the replays, then record their links and the cursor in one
 * transaction. A crash between the two re-publishes that chunk on resume with the same ids (see replayId), which
 * the worker answers once; a stop between chunks leaves nothing to repeat.
 */
async function publishAll(
  job: ReplayJob,
  o: ReplayOptions,
  d: { store: ReplayStore; producer: RecordProducer; progress: Progress; signal: AbortSignal },
): Promise<{ status: "stopped" | "done"; published: number }> {
  const filter = job.filter as ReplayFilter & { to_model?: string };
  const model = filter.to_model;
  let cursor = job.cursor;
  let published = job.published;
  let thisRun = 0;
  for (;;) {
    if (d.signal.aborted || (o.max !== undefined && thisRun >= o.max))
      return { status: "stopped", published };
    const limit = Math.min(CHUNK, o.max === undefined ? CHUNK : o.max - thisRun);
    const rows = await d.store.next(filter, cursor, limit);
    if (rows.length === 0) return { status: "done", published };
    const now = new Date();
    const replays = rows.map((r) => ({
      original: r,
      replay: replayRequest(r.request, job.jobId, { model, now }),
    }));
    await d.producer.send(
      replays.map(({ replay }) => ({
        topic: job.topic,
        key: replay.conversation_id ?? replay.request_id,
        value: JSON.stringify(replay),
      })),
    );
    const last = rows.at(-1) as (typeof rows)[number];
    cursor = { at: last.at, id: last.requestId };
    await d.store.advance(
      job.jobId,
      replays.map(({ original, replay }) => ({ requestId: replay.request_id, replayOf: original.requestId })),
      cursor,
    );
    published += rows.length;
    thisRun += rows.length;
    d.progress.update(published);
  }
}
