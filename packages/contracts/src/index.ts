export {
  type ChatReply,
  ChatReplySchema,
  type GuardrailFlag,
  GuardrailFlagSchema,
  type HistoryMode,
  type ReplyError,
  type ReplyStatus,
  type Source,
  type Usage,
} from "./chat-reply.ts";
export {
  type ChatMessage,
  ChatMessageSchema,
  type ChatParams,
  ChatParamsSchema,
  type ChatRequest,
  ChatRequestSchema,
  type Priority,
  PrioritySchema,
  type Retrieval,
  type Role,
} from "./chat-request.ts";
export {
  type Decoded,
  type DecodeLimits,
  decodeChatRequest,
  isAllowedReplyTopic,
  REJECT_CODES,
  type RejectCode,
  type Rejection,
} from "./decode-request.ts";
export { API_ERROR_CODES, type ApiErrorCode } from "./error-codes.ts";
export { jsonSchemas, renderJsonSchema } from "./json-schema.ts";
export { MAX_NESTING_DEPTH, PROTOTYPE_KEYS, REJECTION_MESSAGE_MAX_LENGTH } from "./request-limits.ts";
export { isStorableText } from "./storable-text.ts";
export { DEAD_LETTER_CODES, DEFAULT_TOPICS, type DeadLetterCode, DLQ_HEADERS } from "./topics.ts";
