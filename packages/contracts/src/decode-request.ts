import type { z } from "zod";
import { type ChatRequest, ChatRequestSchema } from "./chat-request.ts";

/** Why a message on the requests topic was refused. Stable: it is a metric label and a DLQ header. */
export const REJECT_CODES = [
  "missing_value",
  "oversize",
  "not_utf8",
  "not_json",
  "schema",
  "empty_messages",
  "bad_role",
  "unknown_model",
  "bad_reply_topic",
] as const;
export type RejectCode = (typeof REJECT_CODES)[number];

export interface Rejection {
  code: RejectCode;
  message: string;
  /** Present when the bad message still carries a usable request_id, so its producer can get a `rejected` reply. */
  requestId?: string;
}

export type Decoded = { ok: true; request: ChatRequest } | { ok: false; rejection: Rejection };

export interface DecodeLimits {
  maxBytes: number;
  /** When set, a request naming another model is refused. A request without a model gets the worker's default. */
  allowedModels?: ReadonlySet<string> | undefined;
  /** When set, a request whose reply_topic is not listed is refused (chatq writes replies only where allowed). */
  allowedReplyTopics?: ReadonlySet<string> | undefined;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Turns the raw bytes of a Kafka message into a valid request, or says exactly why not. Never throws. */
export function decodeChatRequest(value: Uint8Array | null, limits: DecodeLimits): Decoded {
  if (value === null || value.length === 0) return reject("missing_value", "message has no value");
  if (value.length > limits.maxBytes) {
    return reject("oversize", `message is ${value.length} bytes; the limit is ${limits.maxBytes}`);
  }
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return reject("not_utf8", "message value is not valid UTF-8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return reject("not_json", `message value is not JSON: ${(err as Error).message}`);
  }
  const requestId = usableRequestId(json);
  const badText = unstorableTextAt(json);
  if (badText !== undefined) {
    return reject(
      "schema",
      `${badText}: contains a NUL character or an unpaired surrogate, which no database or JSON consumer can keep`,
      requestId,
    );
  }
  const parsed = ChatRequestSchema.safeParse(json);
  if (!parsed.success) {
    const { code, message } = describeIssue(parsed.error);
    return reject(code, message, requestId);
  }
  const model = parsed.data.model;
  if (model !== undefined && limits.allowedModels && !limits.allowedModels.has(model)) {
    return reject(
      "unknown_model",
      `model "${model}" is not allowed; allowed: ${[...limits.allowedModels].join(", ")}`,
      requestId,
    );
  }
  const replyTopic = parsed.data.reply_topic;
  if (replyTopic !== undefined && limits.allowedReplyTopics && !limits.allowedReplyTopics.has(replyTopic)) {
    return reject(
      "bad_reply_topic",
      `reply_topic "${replyTopic}" is not one chatq may write to; allowed: ${[...limits.allowedReplyTopics].join(", ")}`,
      requestId,
    );
  }
  return { ok: true, request: parsed.data };
}

function reject(code: RejectCode, message: string, requestId?: string): Decoded {
  return { ok: false, rejection: requestId === undefined ? { code, message } : { code, message, requestId } };
}

// A UTF-16 surrogate without its partner (a valid JSON escape like "\ud800", but not text).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const unstorable = (text: string) => text.includes("\0") || LONE_SURROGATE.test(text);

/** The path of the first string or key anywhere in the value that cannot be stored as text, if any. */
function unstorableTextAt(value: unknown, path = "(root)"): string | undefined {
  if (typeof value === "string") return unstorable(value) ? path : undefined;
  if (typeof value !== "object" || value === null) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const at = path === "(root)" ? key : `${path}.${key}`;
    if (unstorable(key)) return at;
    const found = unstorableTextAt(child, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

function usableRequestId(json: unknown): string | undefined {
  if (typeof json !== "object" || json === null || !("request_id" in json)) return undefined;
  const id = json.request_id;
  return typeof id === "string" && id.length >= 1 && id.length <= 128 ? id : undefined;
}

/** The first issue decides the code; the message lists every issue with its path, for the producer. */
function describeIssue(error: z.ZodError): { code: RejectCode; message: string } {
  const first = error.issues[0];
  const path = first?.path ?? [];
  let code: RejectCode = "schema";
  if (path.length === 1 && path[0] === "messages" && first?.code === "too_small") code = "empty_messages";
  else if (path[0] === "messages" && path[2] === "role") code = "bad_role";
  const message = error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
  return { code, message };
}
