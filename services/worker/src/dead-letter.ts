import { DLQ_HEADERS, type Rejection } from "@chatq/contracts";
import type { InRecord, OutRecord } from "@chatq/kafka";

/**
 * The dead-letter copy of a refused message: its original bytes and key unchanged (so it can be replayed as it
 * was), its own headers kept, and chatq's headers saying why and where it came from.
 */
export function deadLetterRecord(
  source: InRecord,
  /** A refusal at intake, or a later one (e.g. `store_refused`) that is not a decoding problem. */
  rejection: Pick<Rejection, "message" | "requestId"> & { code: string },
  dlqTopic: string,
  firstSeenAt: Date,
): OutRecord {
  const headers: Record<string, string> = {
    ...source.headers,
    [DLQ_HEADERS.errorCode]: rejection.code,
    [DLQ_HEADERS.errorMessage]: rejection.message.slice(0, 1000),
    [DLQ_HEADERS.sourceTopic]: source.topic,
    [DLQ_HEADERS.sourcePartition]: String(source.partition),
    [DLQ_HEADERS.sourceOffset]: source.offset,
    [DLQ_HEADERS.firstSeenAt]: firstSeenAt.toISOString(),
  };
  if (rejection.requestId !== undefined) headers[DLQ_HEADERS.requestId] = rejection.requestId;
  return {
    topic: dlqTopic,
    key: source.key === null ? null : source.key.toString("utf8"),
    value: source.value ?? Buffer.alloc(0),
    headers,
  };
}
