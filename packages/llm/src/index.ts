export {
  apiParams,
  type ChatAnswer,
  type ChatCall,
  type ChatClient,
  type ChatClientOptions,
  createChatClient,
} from "./chat-client.ts";
export { classifyError, codeForStatus, shouldRetryHeader } from "./classify-error.ts";
export {
  createEmbeddingClient,
  type EmbeddingAnswer,
  type EmbeddingCall,
  type EmbeddingClient,
} from "./embedding-client.ts";
export {
  countMessageTokens,
  countPromptTokens,
  countTextTokens,
  estimateRequestTokens,
  PROMPT_OVERHEAD_TOKENS,
  type PromptMessage,
} from "./estimate-tokens.ts";
export { type ErrorScope, LLM_ERROR_CODES, LlmError, type LlmErrorCode } from "./llm-error.ts";
export {
  costUsd,
  knownModels,
  type ModelInfo,
  modelInfo,
  outputBudget,
  outputLimitParam,
} from "./model-catalog.ts";
export {
  createModerationClient,
  type ModerationAnswer,
  type ModerationCall,
  type ModerationClient,
} from "./moderation-client.ts";
export {
  costOf,
  DEFAULT_PRICES_FILE,
  defaultPriceTable,
  loadPriceTable,
  type ModelPrice,
  ModelPriceSchema,
  type PricedUsage,
  type PriceTable,
  PriceTableError,
  priceOf,
} from "./price-table.ts";
export {
  DEFAULT_RETRY_POLICY,
  decideRetry,
  type RetryDecision,
  type RetryPolicy,
  type RetryState,
} from "./retry-policy.ts";
