import type { ChatRequest, Priority } from "@chatq/contracts";
import type { InRecord } from "@chatq/kafka";

/** A valid request on its way through the worker. */
export interface Job {
  request: ChatRequest;
  /** The request's model, or the configured default. */
  model: string;
  priority: Priority;
  /** The scheduling key: one conversation's turns run in order. */
  key: string;
  source: InRecord;
  /** performance.now() when the worker received it, for added-latency figures. */
  receivedAt: number;
  /** Epoch ms the request came into being (created_at, else the Kafka timestamp): end-to-end latency starts here. */
  originMs: number;
  /**
   * Aborts when the job's partition moves to another member or the worker stops: whatever it waits for lets go
   * (see partition-leases.ts). Calls already at the API finish.
   */
  lease: AbortSignal;
}

export function replyTopicOf(request: ChatRequest, defaultTopic: string): string {
  return request.reply_topic ?? defaultTopic;
}
