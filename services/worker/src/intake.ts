import { type DeadLetterCode, type DecodeLimits, decodeChatRequest, type Rejection } from "@chatq/contracts";
import type { InRecord } from "@chatq/kafka";
import {
  type Admission,
  type ReceivedRequest,
  type RejectedMessage,
  rejectedReply,
  type Store,
} from "@chatq/store";
import { deadLetterRecord } from "./dead-letter.ts";
import type { Effect } from "./effects.ts";
import { type Job, replyTopicOf } from "./job.ts";
import { isPermanentStoreError } from "./retry-through-outage.ts";
import { undecodableBatchEffect } from "./undecodable-batch.ts";
import type { WorkerEvents } from "./worker-events.ts";
import { writeOrIsolate } from "./write-or-isolate.ts";

export interface IntakeDeps {
  limits: DecodeLimits;
  defaultModel: string;
  topics: { replies: string; deadLetter: string };
  store: Pick<Store, "admit">;
  events: WorkerEvents;
  withStoreRetry: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The signal of the partition's current ownership period (see partition-leases.ts). */
  leaseFor: (partition: number) => AbortSignal;
  /** Effects of a message that needs no API call (refused, or answered before). */
  pushEffect: (effect: Effect) => void;
  schedule: (job: Job) => void;
  now: () => number;
  log: { warn(obj: object, msg?: string): void };
}

/**
 * A fetched batch, in order: refuse what is bad (DLQ + rejected reply), store what is new in one round trip,
 * re-publish what was answered before, and schedule the rest. Never throws for a message's own fault.
 */
export async function intake(records: readonly InRecord[], deps: IntakeDeps): Promise<void> {
  const jobs: Job[] = [];
  for (const record of records) {
    if (record.undecodable) {
      const effect = undecodableBatchEffect(
        { ...record, undecodable: record.undecodable },
        { deadLetterTopic: deps.topics.deadLetter, events: deps.events, log: deps.log },
      );
      deps.pushEffect(effect);
      continue;
    }
    deps.events.emit("consumed", { topic: record.topic });
    const decoded = decodeChatRequest(record.value, deps.limits);
    if (!decoded.ok) {
      deps.pushEffect(rejectionEffect(record, decoded.rejection, deps));
      continue;
    }
    const request = decoded.request;
    jobs.push({
      request,
      model: request.model ?? deps.defaultModel,
      priority: request.priority ?? "interactive",
      key: request.conversation_id ?? request.request_id,
      source: record,
      receivedAt: deps.now(),
      originMs: request.created_at !== undefined ? Date.parse(request.created_at) : record.timestampMs,
      lease: deps.leaseFor(record.partition),
    });
  }
  if (jobs.length === 0) return;

  const admissions = await admitOrIsolate(jobs, deps);
  for (const job of jobs) {
    const admission = admissions.get(job.request.request_id);
    if (admission === undefined) continue; // refused by the database: dead-lettered by admitOrIsolate
    if (admission.state !== "done") {
      deps.schedule(job);
      continue;
    }
    // Answered before (a redelivery after a crash, or a producer's retry): the same reply again, no API call.
    deps.pushEffect({
      kind: "republish",
      source: job.source,
      audit: {
        event: "reply_republished",
        requestId: job.request.request_id,
        ...(job.request.conversation_id !== undefined && { conversationId: job.request.conversation_id }),
        ...(job.request.tenant !== undefined && { tenant: job.request.tenant }),
        detail: sourceDetail(job.source),
        at: new Date(),
      },
      reply: {
        topic: replyTopicOf(job.request, deps.topics.replies),
        key: job.key,
        value: JSON.stringify(admission.reply),
      },
    });
  }
}

/**
 * One INSERT for the batch. If the database refuses the batch for good (not an outage), each request is admitted
 * alone and the one it refuses goes to the DLQ as store_refused, so a single bad row never blocks a partition.
 */
async function admitOrIsolate(jobs: Job[], deps: IntakeDeps): Promise<Map<string, Admission>> {
  const written = await writeOrIsolate(jobs, {
    writeAll: (batch) => deps.withStoreRetry(() => deps.store.admit(batch.map(toReceived))),
    isolates: isPermanentStoreError,
    refuses: isPermanentStoreError,
    onRefused: (job, err) => {
      // No request_id on the rejection: the database cannot hold this request, so no row is written for it.
      const message = `the database refused the request: ${(err as Error).message}`;
      deps.pushEffect(rejectionEffect(job.source, { code: "store_refused", message }, deps));
    },
  });
  const admissions = new Map<string, Admission>();
  for (const w of written) for (const [id, a] of w.result) admissions.set(id, a);
  return admissions;
}

function rejectionEffect(
  record: InRecord,
  rejection: Omit<Rejection, "code"> & { code: DeadLetterCode },
  deps: IntakeDeps,
): Effect {
  deps.events.emit("rejected", { reason: rejection.code });
  const at = new Date();
  const rejected: RejectedMessage = {
    code: rejection.code,
    message: rejection.message,
    source: { topic: record.topic, partition: record.partition, offset: record.offset },
    at,
  };
  const records = [deadLetterRecord(record, rejection, deps.topics.deadLetter, at)];
  const requestId = rejection.requestId;
  if (requestId !== undefined) {
    rejected.requestId = requestId;
    rejected.reply = rejectedReply({ ...rejected, requestId });
    records.push({
      topic: deps.topics.replies,
      key: record.key?.toString("utf8") ?? requestId,
      value: JSON.stringify(rejected.reply),
    });
  }
  return { kind: "rejection", source: record, records, rejected };
}

function toReceived(job: Job): ReceivedRequest {
  return {
    request: job.request,
    model: job.model,
    priority: job.priority,
    source: { topic: job.source.topic, partition: job.source.partition, offset: job.source.offset },
    receivedAt: new Date(),
  };
}

function sourceDetail(r: InRecord): Record<string, unknown> {
  return { topic: r.topic, partition: r.partition, offset: r.offset };
}
