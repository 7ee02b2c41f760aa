import { randomUUID } from "node:crypto";
import type { ChatRequest, Priority } from "@chatq/contracts";
import { createKafka, createRecordProducer } from "@chatq/kafka";
import type { CliEnv } from "./cli-config.ts";

export interface PublishArgs {
  message: string;
  conversation?: string | undefined;
  system?: string | undefined;
  model?: string | undefined;
  tenant?: string | undefined;
  priority?: Priority | undefined;
  maxTokens?: number | undefined;
}

export function buildRequest(a: PublishArgs): ChatRequest {
  const messages: ChatRequest["messages"] = [];
  if (a.system) messages.push({ role: "system", content: a.system });
  messages.push({ role: "user", content: a.message });
  return {
    request_id: randomUUID(),
    ...(a.conversation !== undefined && { conversation_id: a.conversation }),
    ...(a.model !== undefined && { model: a.model }),
    ...(a.tenant !== undefined && { tenant: a.tenant }),
    ...(a.priority !== undefined && { priority: a.priority }),
    ...(a.maxTokens !== undefined && { params: { max_tokens: a.maxTokens } }),
    messages,
    created_at: new Date().toISOString(),
  };
}

/** Publishes requests the way any producer should: keyed by conversation (or request) id. */
export async function publishRequests(env: CliEnv, requests: ChatRequest[]): Promise<void> {
  const kafka = createKafka({ brokers: env.kafkaBrokers, clientId: "chatq-cli" });
  const producer = await createRecordProducer(kafka);
  try {
    await producer.send(
      requests.map((r) => ({
        topic: env.topics.requests,
        key: r.conversation_id ?? r.request_id,
        value: JSON.stringify(r),
      })),
    );
  } finally {
    await producer.disconnect();
  }
}
