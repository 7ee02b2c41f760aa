import type { z } from "zod";
import { type ChatRequest, ChatRequestSchema } from "./chat-request.ts";
import { MAX_NESTING_DEPTH, PROTOTYPE_KEYS, REJECTION_MESSAGE_MAX_LENGTH } from "./request-limits.ts";
import { type JsonHazard, screenJson } from "./screen-json.ts";
import { isStorableText, toStorableText } from "./storable-text.ts";

/** Why a message on the requests topic was refused. Stable: it is a metric label and a DLQ header. */
export const REJECT_CODES = [
  "missing_value",
  "oversize",
  "not_utf8",
  "not_json",
  "too_deep",
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
  /**
   * When set, a request whose reply_topic is not listed is refused (chatq writes replies only where allowed). An
   * entry ending in `*` allows every topic with that prefix (a gateway replica's own reply topic).
   */
  allowedReplyTopics?: ReadonlySet<string> | undefined;
}

// Fatal: invalid UTF-8 (overlong forms, encoded surrogates, truncated sequences) is refused, never replaced.
// A leading byte order mark is skipped, as RFC 8259 lets a parser do.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Turns the raw bytes of a Kafka message into a valid request, or says exactly why not. Never throws, for any
 * bytes: every step is a single linear pass over the input (JSON.parse is iterative in V8, `screenJson` walks
 * with its own stack, the schema is of fixed depth), and every refusal is a `Rejection` with a stable code.
 */
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
    return reject(
      "not_json",
      `message value is not JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const requestId = usableRequestId(json);
  const hazard = screenJson(json, MAX_NESTING_DEPTH);
  if (hazard !== undefined)
    return reject(hazard.kind === "too_deep" ? "too_deep" : "schema", describeHazard(hazard), requestId);
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
  if (
    replyTopic !== undefined &&
    limits.allowedReplyTopics &&
    !isAllowedReplyTopic(replyTopic, limits.allowedReplyTopics)
  ) {
    return reject(
      "bad_reply_topic",
      `reply_topic "${replyTopic}" is not one chatq may write to; allowed: ${[...limits.allowedReplyTopics].join(", ")}`,
      requestId,
    );
  }
  return { ok: true, request: parsed.data };
}

/** `topic` is listed, or starts with the prefix of an entry ending in `*` (`chat.replies.gateway.*`). */
export function isAllowedReplyTopic(topic: string, allowed: ReadonlySet<string>): boolean {
  if (allowed.has(topic)) return true;
  for (const entry of allowed) {
    if (entry.endsWith("*") && topic.startsWith(entry.slice(0, -1))) return true;
  }
  return false;
}

/** Messages quote input back (a parser's excerpt, a key name): made storable and bounded here, once. */
function reject(code: RejectCode, message: string, requestId?: string): Decoded {
  const text = toStorableText(message, REJECTION_MESSAGE_MAX_LENGTH) || code;
  return {
    ok: false,
    rejection: requestId === undefined ? { code, message: text } : { code, message: text, requestId },
  };
}

function describeHazard(hazard: JsonHazard): string {
  const at = hazard.path === "" ? "(root)" : hazard.path;
  switch (hazard.kind) {
    case "too_deep":
      return `${at}: nested deeper than ${hazard.maxDepth} levels (objects and arrays, the request itself included)`;
    case "unstorable_text":
      return `${at}: contains a NUL character or an unpaired surrogate, which no database or JSON consumer can keep`;
    case "prototype_key":
      return `${at}: the keys ${[...PROTOTYPE_KEYS].join(", ")} are not allowed anywhere (prototype pollution)`;
    case "not_finite":
      return `${at}: number out of range (a double cannot hold it)`;
  }
}

/**
 * The request_id of a refused message when it could be one, so its producer can be sent a `rejected` reply.
 * Own property only (never one inherited), and text a database can store as the reply's key.
 */
function usableRequestId(json: unknown): string | undefined {
  if (
    typeof json !== "object" ||
    json === null ||
    Array.isArray(json) ||
    !Object.hasOwn(json, "request_id")
  ) {
    return undefined;
  }
  const id = (json as { request_id: unknown }).request_id;
  return typeof id === "string" && id.length >= 1 && id.length <= 128 && isStorableText(id) ? id : undefined;
}

/** The first issue decides the code; the message lists up to five issues with their paths, for the producer. */
function describeIssue(error: z.ZodError): { code: RejectCode; message: string } {
  const first = error.issues[0];
  const path = first?.path ?? [];
  let code: RejectCode = "schema";
  if (path.length === 1 && path[0] === "messages" && first?.code === "too_small") code = "empty_messages";
  else if (path[0] === "messages" && path[2] === "role") code = "bad_role";
  const message = error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.map(String).join(".") : "(root)"}: ${i.message}`)
    .join("; ");
  return { code, message };
}
