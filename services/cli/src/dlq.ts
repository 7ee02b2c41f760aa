import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { DLQ_HEADERS } from "@chatq/contracts";
import { createBatchConsumer, createKafka, createRecordProducer, type InRecord } from "@chatq/kafka";
import { createReplayStore } from "@chatq/store";
import type { CliEnv } from "./cli-config.ts";
import { deadLetterReplay } from "./dead-letter-replay.ts";

export const DLQ_USAGE = `  dlq list [--reason R] [--json]        dead letters by reason (id = partition:offset)
  dlq show <id>                          one dead letter: why, where from, its value
  dlq replay (--reason R | --ids p:o,…) [--topic T] [--dry-run]
                                         re-publish the chosen ones with new request ids
                                         (replay_of = the original id), once fixed`;

/** One dead letter as the CLI shows it. */
export interface DeadLetter {
  id: string;
  reason: string;
  message: string;
  requestId: string | undefined;
  sourceTopic: string | undefined;
  sourceOffset: string | undefined;
  firstSeenAt: string | undefined;
  value: Buffer | null;
}

class DlqUsageError extends Error {}

export async function runDlq(args: string[], env: CliEnv, out: (line: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        reason: { type: "string" },
        ids: { type: "string" },
        topic: { type: "string" },
        json: { type: "boolean", default: false },
        "dry-run": { type: "boolean", default: false },
      },
    });
    if (sub === "list") {
      const letters = (await readDeadLetters(env)).filter(
        (d) => values.reason === undefined || d.reason === values.reason,
      );
      out(values.json ? JSON.stringify(letters.map(summary)) : formatList(letters));
      return 0;
    }
    if (sub === "show") {
      const id = positionals[0];
      if (id === undefined) throw new DlqUsageError("dlq show needs an id (partition:offset)");
      const letter = (await readDeadLetters(env)).find((d) => d.id === id);
      if (letter === undefined) {
        out(`no dead letter ${id} on ${env.topics.deadLetter}`);
        return 1;
      }
      out(JSON.stringify({ ...summary(letter), value: letter.value?.toString("utf8") ?? null }, null, 2));
      return 0;
    }
    if (sub === "replay") {
      const ids = values.ids
        ?.split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      if (values.reason === undefined && ids === undefined) {
        throw new DlqUsageError(
          "dlq replay needs --reason R or --ids p:o,… (it never re-publishes everything by default)",
        );
      }
      const chosen = (await readDeadLetters(env)).filter(
        (d) =>
          (values.reason === undefined || d.reason === values.reason) &&
          (ids === undefined || ids.includes(d.id)),
      );
      return await replay(
        chosen,
        env,
        { topic: values.topic ?? env.topics.requests, dryRun: values["dry-run"] },
        out,
      );
    }
    throw new DlqUsageError(
      sub === undefined ? "dlq needs list, show or replay" : `unknown dlq command: ${sub}`,
    );
  } catch (err) {
    if (!(err instanceof DlqUsageError) && !(err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))
      throw err;
    out(`${(err as Error).message}\n\nusage: chatq\n${DLQ_USAGE}`);
    return 2;
  }
}

async function replay(
  chosen: DeadLetter[],
  env: CliEnv,
  o: { topic: string; dryRun: boolean },
  out: (line: string) => void,
): Promise<number> {
  const jobId = randomUUID();
  const planned = chosen.map((d) => ({ letter: d, replay: deadLetterReplay(d, jobId, new Date()) }));
  for (const p of planned) {
    if (!p.replay.ok) out(`skipped ${p.letter.id} (${p.letter.reason}): ${p.replay.why}`);
  }
  const ready = planned.flatMap((p) =>
    p.replay.ok ? [{ letter: p.letter, request: p.replay.request }] : [],
  );
  if (o.dryRun || ready.length === 0) {
    for (const r of ready)
      out(`would publish ${r.request.request_id} (replay_of ${r.request.replay_of}) from ${r.letter.id}`);
    out(JSON.stringify({ job: null, chosen: chosen.length, publishable: ready.length, dry_run: o.dryRun }));
    return 0;
  }
  const store = createReplayStore({
    databaseUrl: env.databaseUrl,
    applicationName: "chatq-dlq",
    ...(env.databaseSchema !== undefined && { schema: env.databaseSchema }),
  });
  const producer = await createRecordProducer(
    createKafka({ brokers: env.kafkaBrokers, clientId: "chatq-dlq" }),
  );
  try {
    await store.createJob({
      jobId,
      kind: "dead_letters",
      filter: { dead_letters: ready.map((r) => r.letter.id), dlq_topic: env.topics.deadLetter },
      topic: o.topic,
      total: ready.length,
    });
    await producer.send(
      ready.map((r) => ({
        topic: o.topic,
        key: r.request.conversation_id ?? r.request.request_id,
        value: JSON.stringify(r.request),
      })),
    );
    await store.advance(
      jobId,
      ready.map((r) => ({ requestId: r.request.request_id, replayOf: r.request.replay_of ?? r.letter.id })),
      undefined,
    );
    await store.setStatus(jobId, "done");
    for (const r of ready)
      out(`published ${r.request.request_id} (replay_of ${r.request.replay_of}) from ${r.letter.id}`);
    out(JSON.stringify({ job: jobId, published: ready.length, topic: o.topic }));
    return 0;
  } finally {
    await producer.disconnect();
    await store.close();
  }
}

/** Reads the dead-letter topic from its start to its current end (a private group, nothing committed for others). */
export async function readDeadLetters(env: CliEnv, timeoutMs = 30_000): Promise<DeadLetter[]> {
  const kafka = createKafka({ brokers: env.kafkaBrokers, clientId: "chatq-dlq" });
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(env.topics.deadLetter);
    ends = new Map(
      offsets.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high) - 1n]),
    );
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return [];
  const seen: InRecord[] = [];
  const consumer = createBatchConsumer(kafka, {
    groupId: `chatq-dlq-${randomUUID()}`,
    topic: env.topics.deadLetter,
    fromBeginning: true,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1000,
  });
  let finished: () => void = () => {};
  const done = new Promise<void>((r) => (finished = r));
  const left = new Map(ends);
  await consumer.start((records) => {
    for (const r of records) {
      seen.push(r);
      const end = left.get(r.partition);
      if (end !== undefined && BigInt(r.offset) >= end) left.delete(r.partition);
    }
    if (left.size === 0) finished();
  });
  const timer = setTimeout(finished, timeoutMs);
  await done;
  clearTimeout(timer);
  await consumer.disconnect();
  return seen
    .sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))
    .map((r) => ({
      id: `${r.partition}:${r.offset}`,
      reason: r.headers[DLQ_HEADERS.errorCode] ?? "unknown",
      message: r.headers[DLQ_HEADERS.errorMessage] ?? "",
      requestId: r.headers[DLQ_HEADERS.requestId],
      sourceTopic: r.headers[DLQ_HEADERS.sourceTopic],
      sourceOffset:
        r.headers[DLQ_HEADERS.sourcePartition] === undefined
          ? undefined
          : `${r.headers[DLQ_HEADERS.sourcePartition]}:${r.headers[DLQ_HEADERS.sourceOffset] ?? "?"}`,
      firstSeenAt: r.headers[DLQ_HEADERS.firstSeenAt],
      value: r.value,
    }));
}

function summary(d: DeadLetter) {
  return {
    id: d.id,
    reason: d.reason,
    request_id: d.requestId ?? null,
    message: d.message,
    source: d.sourceTopic === undefined ? null : `${d.sourceTopic} ${d.sourceOffset ?? ""}`.trim(),
    first_seen_at: d.firstSeenAt ?? null,
    bytes: d.value?.length ?? 0,
  };
}

export function formatList(letters: DeadLetter[]): string {
  if (letters.length === 0) return "no dead letters";
  const byReason = new Map<string, number>();
  for (const d of letters) byReason.set(d.reason, (byReason.get(d.reason) ?? 0) + 1);
  const head = [...byReason].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r}: ${n}`);
  const lines = letters.map(
    (d) =>
      `${d.id.padEnd(10)} ${d.reason.padEnd(18)} ${(d.requestId ?? "-").padEnd(24)} ${d.message.slice(0, 80)}`,
  );
  return [`${letters.length} dead letters — ${head.join(", ")}`, ...lines].join("\n");
}
