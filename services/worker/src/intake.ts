import {
  type ChatReply,
  type ChatRequest,
  type DeadLetterCode,
  type DecodeLimits,
  decodeChatRequest,
  type Rejection,
} from "@chatq/contracts";
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
import { isPermanentStoreError, isStoreOutage } from "./retry-through-outage.ts";
import { undecodableBatchEffect } from "./undecodable-batch.ts";
import type { WorkerEvents } from "./worker-events.ts";
import { writeOrIsolate } from "./write-or-isolate.ts";

const STORE_REFUSED: DeadLetterCode = "store_refused";
const INTAKE_ERROR: DeadLetterCode = "intake_error";

export interface IntakeDeps {
  limits: DecodeLimits;
  defaultModel: string;
  topics: { replies: string; deadLetter: string };
  store: Pick<Store, "admit">;
  events: WorkerEvents;
  /** Retries a store call through an outage; anything that is not an outage comes back at once. */
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
 * re-publish what was answered before, and schedule the rest. Never throws for a message's own fault, nor for a
 * bug met while handling one message: that message is dead-lettered as intake_error and the batch goes on, since
 * an intake that throws leaves every offset of the batch unfinished and its partitions stop committing for good.
 * It throws only when the store stays unreachable until the worker stops (the batch is then redelivered).
 */
export async function intake(records: readonly InRecord[], deps: IntakeDeps): Promise<void> {
  const jobs: Job[] = [];
  for (const record of records) {
    if (record.undecodable) {
      const undecodable = record.undecodable;
      isolated(record, deps, () => {
        const o = { deadLetterTopic: deps.topics.deadLetter, events: deps.events, log: deps.log };
        deps.pushEffect(undecodableBatchEffect({ ...record, undecodable }, o));
      });
      continue;
    }
    deps.events.emit("consumed", { topic: record.topic });
    isolated(record, deps, () => {
      const decoded = decodeChatRequest(record.value, deps.limits);
      if (decoded.ok) jobs.push(toJob(record, decoded.request, deps));
      else deps.pushEffect(rejectionEffect(record, decoded.rejection, deps));
    });
  }
  if (jobs.length === 0) return;

  const admissions = await admitOrIsolate(jobs, deps);
  for (const job of jobs) {
    const admission = admissions.get(job.request.request_id);
    if (admission === undefined) continue; // refused: dead-lettered by admitOrIsolate
    isolated(job.source, deps, () => {
      if (admission.state === "done") deps.pushEffect(republishEffect(job, admission.reply, deps));
      else deps.schedule(job);
    });
  }
}

function toJob(record: InRecord, request: ChatRequest, deps: IntakeDeps): Job {
  return {
    request,
    model: request.model ?? deps.defaultModel,
    priority: request.priority ?? "interactive",
    key: request.conversation_id ?? request.request_id,
    source: record,
    receivedAt: deps.now(),
    originMs: request.created_at !== undefined ? Date.parse(request.created_at) : record.timestampMs,
    lease: deps.leaseFor(record.partition),
  };
}

/** Answered before (a redelivery after a crash, or a producer's retry): the same reply again, no API call. */
function republishEffect(job: Job, reply: ChatReply, deps: IntakeDeps): Effect {
  return {
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
      value: JSON.stringify(reply),
    },
  };
}

/**
 * Runs one message's step; if it throws (a bug: every refusal a message deserves is a value, not an exception),
 * that message alone goes to the DLQ as intake_error with the reason. No request_id is given, so no `rejected`
 * reply or request row is written: the fault is chatq's, and a replay after the fix must be processed afresh.
 */
function isolated(record: InRecord, deps: IntakeDeps, step: () => void): void {
  try {
    step();
  } catch (err) {
    deps.pushEffect(rejectionEffect(record, intakeError(err), deps));
  }
}

function intakeError(err: unknown): { code: DeadLetterCode; message: string } {
  const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { code: INTAKE_ERROR, message: `intake failed for this message: ${reason}`.slice(0, 1000) };
}

/**
 * One INSERT for the batch. If it fails for anything but an outage (a permanent refusal, or a bug that threw
 * something other than a StoreError), each request is admitted alone: one the database refuses goes to the DLQ
 * as store_refused, one whose admission throws otherwise as intake_error, so a single bad row never blocks a
 * partition. An outage is waited out by withStoreRetry; one still failing when the worker stops is rethrown.
 */
async function admitOrIsolate(jobs: Job[], deps: IntakeDeps): Promise<Map<string, Admission>> {
  const notAnOutage = (err: unknown) => !isStoreOutage(err);
  const written = await writeOrIsolate(jobs, {
    writeAll: (batch) => deps.withStoreRetry(() => deps.store.admit(batch.map(toReceived))),
    isolates: notAnOutage,
    refuses: notAnOutage,
    onRefused: (job, err) => {
      // No request_id on the rejection: no row is written for a request the database could not take.
      const rejection = isPermanentStoreError(err)
        ? { code: STORE_REFUSED, message: `the database refused the request: ${err.message}` }
        : intakeError(err);
      deps.pushEffect(rejectionEffect(job.source, rejection, deps));
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
