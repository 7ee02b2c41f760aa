import { type DeadLetterCode, DLQ_HEADERS } from "@chatq/contracts";
import type { InRecord } from "@chatq/kafka";
import { deadLetterRecord } from "./dead-letter.ts";
import type { Effect } from "./effects.ts";
import type { WorkerEvents } from "./worker-events.ts";

const UNDECODABLE_BATCH: DeadLetterCode = "undecodable_batch";
/** The raw batch rides along when it is small enough for the DLQ topic; otherwise the headers alone say where. */
const MAX_RAW_BATCH_BYTES = 512 * 1024;

export interface UndecodableBatchDeps {
  deadLetterTopic: string;
  events: WorkerEvents;
  log: { warn(obj: object, msg?: string): void };
}

/**
 * A record batch the Kafka client could not decode (a codec it lacks, corrupt bytes, malformed records) arrives
 * as one record standing for its offset range. Nothing in it can be answered, and retrying cannot change the
 * bytes on disk: it goes to the DLQ as `undecodable_batch` with the range and the reason, is audited, and its
 * whole range is released so the partition moves on.
 */
export function undecodableBatchEffect(
  record: InRecord & { undecodable: NonNullable<InRecord["undecodable"]> },
  deps: UndecodableBatchDeps,
): Effect {
  const { lastOffset, reason } = record.undecodable;
  const range = {
    topic: record.topic,
    partition: record.partition,
    first_offset: record.offset,
    last_offset: lastOffset,
  };
  const offsets = Number(lastOffset) - Number(record.offset) + 1;
  // Counted as a dead letter where the DLQ record is written (effects.ts), like every other one.
  deps.events.emit("undecodable_batch", { topic: record.topic, offsets });
  deps.log.warn({ ...range, offsets, reason }, "undecodable record batch dead-lettered and skipped");

  const at = new Date();
  const raw = record.value !== null && record.value.length <= MAX_RAW_BATCH_BYTES ? record.value : null;
  const dead = deadLetterRecord(
    { ...record, value: raw },
    { code: UNDECODABLE_BATCH, message: `the Kafka client could not decode this record batch: ${reason}` },
    deps.deadLetterTopic,
    at,
  );
  return {
    kind: "dead_letter",
    source: record,
    record: { ...dead, headers: { ...dead.headers, [DLQ_HEADERS.sourceLastOffset]: lastOffset } },
    audit: {
      event: "dead_lettered",
      errorCode: UNDECODABLE_BATCH,
      detail: { ...range, reason: reason.slice(0, 500) },
      at,
    },
  };
}
