import { REJECT_CODES } from "./decode-request.ts";

/** Default topic names; every service takes overrides from its config. */
export const DEFAULT_TOPICS = {
  requests: "chat.requests",
  replies: "chat.replies",
  deadLetter: "chat.requests.dlq",
  /** Where `chatq replay` publishes: its own consumer group, so reprocessing never queues ahead of live traffic. */
  replay: "chat.requests.replay",
} as const;

/**
 * Headers on a dead-lettered message. The value is the original bytes, unchanged; these say why it is there.
 * Names are lowercase with a `chatq-` prefix so they never collide with a producer's own headers.
 */
export const DLQ_HEADERS = {
  errorCode: "chatq-error-code",
  errorMessage: "chatq-error-message",
  sourceTopic: "chatq-source-topic",
  sourcePartition: "chatq-source-partition",
  sourceOffset: "chatq-source-offset",
  /** Only on an `undecodable_batch` dead letter: the last offset of the range it stands for (sourceOffset the first). */
  sourceLastOffset: "chatq-source-last-offset",
  firstSeenAt: "chatq-first-seen-at",
  requestId: "chatq-request-id",
} as const;

/**
 * Every chatq-error-code a dead letter can carry: the intake refusals, `store_refused` for a request the
 * database refused for good, `publish_refused` for one whose reply Kafka refused for good (too large…), and
 * `undecodable_batch` for a record batch the Kafka client could not decode (its value is the raw batch, its
 * headers the source offset range and the reason).
 * `intake_error` for one whose intake threw something unexpected (a bug in chatq, not the message's fault: it is
 * set aside so that the rest of its partition goes on; replay it once the bug is fixed).
 */
export const DEAD_LETTER_CODES = [
  ...REJECT_CODES,
  "store_refused",
  "publish_refused",
  "undecodable_batch",
  "intake_error",
] as const;
export type DeadLetterCode = (typeof DEAD_LETTER_CODES)[number];
