import { randomUUID } from "node:crypto";
import type { ChatReply } from "@chatq/contracts";
import { DLQ_HEADERS } from "@chatq/contracts";
import { createBatchConsumer, createKafka } from "@chatq/kafka";
import type { CliEnv } from "./cli-config.ts";

export type Followed =
  | { kind: "reply"; reply: ChatReply }
  | { kind: "dead-letter"; code: string; message: string; value: string };

/** Follows the reply and dead-letter topics (from now on, or from the start) and hands each message over. */
export async function follow(env: CliEnv, fromBeginning: boolean, onMessage: (m: Followed) => void) {
  const kafka = createKafka({ brokers: env.kafkaBrokers, clientId: "chatq-cli" });
  const consumers = [env.topics.replies, env.topics.deadLetter].map((topic) =>
    createBatchConsumer(kafka, {
      groupId: `chatq-cli-${randomUUID()}`,
      topic,
      fromBeginning,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
    }),
  );
  const [replies, deadLetters] = consumers as [(typeof consumers)[0], (typeof consumers)[0]];
  await replies.start((records) => {
    for (const r of records)
      onMessage({ kind: "reply", reply: JSON.parse(r.value?.toString("utf8") ?? "{}") });
  });
  await deadLetters.start((records) => {
    for (const r of records) {
      onMessage({
        kind: "dead-letter",
        code: r.headers[DLQ_HEADERS.errorCode] ?? "?",
        message: r.headers[DLQ_HEADERS.errorMessage] ?? "",
        value: r.value?.toString("utf8").slice(0, 80) ?? "",
      });
    }
  });
  await Promise.all(consumers.map((c) => c.joined()));
  return { stop: () => Promise.all(consumers.map((c) => c.disconnect())) };
}
