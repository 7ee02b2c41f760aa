import { hostname } from "node:os";
import {
  bool,
  brokers,
  ConfigError,
  csv,
  encryptionFields,
  encryptionSettings,
  int,
  json,
  logLevel,
  parseEnv,
  sqlIdentifier,
  url,
} from "@chatq/config";
import { DEFAULT_TOPICS } from "@chatq/contracts";
import { COMPRESSIONS } from "@chatq/kafka";
import { knownModels, ModelPriceSchema } from "@chatq/llm";
import { encryptionProblem } from "@chatq/vault";
import { z } from "zod";
import { BATCH_ENV, toBatchConfig } from "./batch-config.ts";

const DEFAULT_COMPRESSION = "lz4";
/** The moderation model a policy uses unless it names another (whose limits then come from OPENAI_MODEL_LIMITS). */
const DEFAULT_MODERATION_MODEL = "omni-moderation-latest";
const share = z.coerce.number().min(0.05).max(1);
const modelLimits = z.record(z.string(), z.object({ rpm: int(0), tpm: int(0) }));

/** What the worker and `chatq docs` read about retrieval (the CLI parses only these and the API's). */
const RETRIEVAL_ENV = {
  RETRIEVAL_STORE: z.enum(["off", "auto", "pgvector", "pglite"]).default("off"),
  RETRIEVAL_DATA_DIR: z.string().min(1).optional(),
  RETRIEVAL_EMBEDDING_MODEL: z.string().min(1).default("text-embedding-3-small"),
  RETRIEVAL_DIMENSIONS: int(1, 3072).default(1536),
  RETRIEVAL_CHUNK_TOKENS: int(16, 8191).default(400),
  RETRIEVAL_CHUNK_OVERLAP_TOKENS: int(0, 4096).default(50),
  RETRIEVAL_TENANT_DEFAULTS: json(
    z.record(z.string(), z.object({ collection: z.string().min(1), k: int(1, 100) })),
    '{"acme":{"collection":"handbook","k":4}}',
  ).optional(),
  // The embedding model's own limits (OpenAI gives embeddings a budget apart from chat models).
  EMBEDDING_RPM: int(0).default(3000),
  EMBEDDING_TPM: int(0).default(1_000_000),
} as const;

/** Every environment variable the worker reads, with its default. The README's configuration table mirrors this. */
const EnvSchema = z.object({
  KAFKA_BROKERS: brokers,
  KAFKA_CLIENT_ID: z.string().default(`chatq-worker-${hostname()}`),
  KAFKA_GROUP_ID: z.string().min(1).default("chatq-worker"),
  KAFKA_SESSION_TIMEOUT_MS: int(6000).default(30_000),
  KAFKA_HEARTBEAT_INTERVAL_MS: int(100).default(3_000),
  // The codec of what the worker produces (replies, dead letters). Any codec is read. Default: the fastest end to
  // end in the codecs benchmark for chatq's replies (BENCHMARKS.md, "Kafka codecs").
  KAFKA_COMPRESSION: z.enum(COMPRESSIONS).default(DEFAULT_COMPRESSION),
  TOPIC_REQUESTS: z.string().min(1).default(DEFAULT_TOPICS.requests),
  TOPIC_REPLIES: z.string().min(1).default(DEFAULT_TOPICS.replies),
  TOPIC_DLQ: z.string().min(1).default(DEFAULT_TOPICS.deadLetter),
  TOPIC_REPLIES_ALLOWED: csv.optional(),
  TOPIC_PARTITIONS: int(1, 10_000).default(12),
  TOPIC_CREATE: bool.default(true),
  DATABASE_URL: url(["postgres:", "postgresql:"]),
  DATABASE_SCHEMA: sqlIdentifier.optional(),
  DATABASE_POOL_SIZE: int(1, 200).default(10),
  DB_MIGRATE_ON_START: bool.default(true),
  REDIS_URL: url(["redis:", "rediss:"]).optional(),
  OPENAI_API_KEY: z.string().min(1, "is required (the fake API accepts any key it was started with)"),
  OPENAI_BASE_URL: url(["http:", "https:"]).optional(),
  OPENAI_ORGANIZATION: z.string().optional(),
  OPENAI_DEFAULT_MODEL: z.string().min(1).default("gpt-4o-mini"),
  OPENAI_ALLOWED_MODELS: csv.optional(),
  OPENAI_TIMEOUT_MS: int(100).default(60_000),
  OPENAI_RETRY_DEADLINE_MS: int(0).default(15 * 60_000),
  OPENAI_MAX_ATTEMPTS: int(0, 100_000).default(0),
  OPENAI_RETRY_BASE_MS: int(1).default(500),
  OPENAI_RETRY_MAX_MS: int(1).default(30_000),
  OPENAI_RPM: int(0).default(500),
  OPENAI_TPM: int(0).default(200_000),
  OPENAI_MODEL_LIMITS: json(modelLimits, '{"gpt-4o":{"rpm":500,"tpm":30000}}').optional(),
  RATELIMIT_SLICE_MS: int(100, 60_000).default(1000),
  RATELIMIT_MAX_QUEUED: int(1).default(2000),
  RATELIMIT_KEY_PREFIX: z.string().default("chatq"),
  // An upper bound for memory: the worker holds what its budget needs by Little's law (in-flight-target.ts).
  WORKER_MAX_IN_FLIGHT: int(1, 100_000).default(2_000),
  REQUEST_MAX_BYTES: int(256, 64 * 1024 * 1024).default(256 * 1024),
  HISTORY_MAX_MESSAGES: int(0, 10_000).default(100),
  SHUTDOWN_TIMEOUT_MS: int(0).default(30_000),
  AUTH_PROBE_MAX_INTERVAL_MS: int(100).default(2_000),
  CIRCUIT_PROBE_MAX_INTERVAL_MS: int(100).default(1_000),
  LAG_REFRESH_MS: int(500).default(15_000),
  METRICS_PORT: int(0, 65_535).default(9464),
  METRICS_HOST: z.string().default("0.0.0.0"),
  LOG_LEVEL: logLevel.default("info"),
  LOG_PRETTY: bool.default(false),
  LOG_CONTENT: bool.default(false),
  // Context: summaries of long conversations, and retrieval.
  HISTORY_WINDOW_SHARE: share.default(0.75),
  SUMMARY_ENABLED: bool.default(true),
  SUMMARY_MODEL: z.string().min(1).default("gpt-4o-mini"),
  SUMMARY_MAX_TOKENS: int(16, 4096).default(400),
  ...RETRIEVAL_ENV,
  // Routing and spend (README: Routing and spend).
  ROUTES_FILE: z.string().min(1).optional(),
  ROUTES_POLL_MS: int(0).default(5_000),
  ROUTE_WAIT_BUDGET_MS: int(0).default(2_000),
  PRICES_FILE: z.string().min(1).optional(),
  PRICES_VERSION: z.string().min(1).max(64).optional(),
  PRICES_OVERRIDES: json(
    z.record(z.string(), ModelPriceSchema),
    '{"my-model":{"input":1,"output":2}}',
  ).optional(),
  BUDGETS_FILE: z.string().min(1).optional(),
  BUDGET_SPEND_REFRESH_MS: int(0).default(1_000),
  BUDGET_METRIC_TENANTS: csv.optional(),
  ...BATCH_ENV,
  // Data protection (README: Data protection). On unless turned off explicitly.
  ...encryptionFields,
  // Guardrails (README: Guardrails). Off by default: requests go to the API as they are.
  GUARDRAILS_ENABLED: bool.default(false),
  GUARDRAILS_POLICY_FILE: z.string().min(1).optional(),
  // The moderation model's own limits (OpenAI gives moderations a budget apart from chat models).
  MODERATION_RPM: int(0).default(1000),
  MODERATION_TPM: int(0).default(150_000),
});

export type WorkerConfig = ReturnType<typeof toConfig>;

/** Every variable the worker reads: packaging (compose, Kubernetes) may set these and no others. */
export const WORKER_ENV_KEYS: readonly string[] = Object.keys(EnvSchema.shape);

/** Past the shutdown deadline the worker's own steps are bounded by; if it is still here then, something hangs. */
export const HARD_STOP_GRACE_MS = 5_000;

export { ConfigError };

/** Validates the environment once, at start; every bad or missing value is named in one error. */
export function loadConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const config = toConfig(parseEnv(EnvSchema, env), (name) => env[name]);
  const problem = encryptionProblem(config.encryption);
  if (problem !== undefined) throw new ConfigError([problem]);
  return config;
}

/** `secret` reads a deployment's key reference: the route file names a variable, never holds a key. */
function toConfig(
  e: z.infer<typeof EnvSchema>,
  secret: (name: string) => string | undefined = () => undefined,
) {
  return {
    secret,
    routing: {
      routesFile: e.ROUTES_FILE,
      pollMs: e.ROUTES_POLL_MS,
      waitBudgetMs: e.ROUTE_WAIT_BUDGET_MS,
      pricesFile: e.PRICES_FILE,
      pricesVersion: e.PRICES_VERSION,
      priceOverrides: e.PRICES_OVERRIDES,
      budgetsFile: e.BUDGETS_FILE,
      spendRefreshMs: e.BUDGET_SPEND_REFRESH_MS,
      // Tenants named in metric labels; every other tenant is "other" (labels stay bounded).
      metricTenants: new Set(e.BUDGET_METRIC_TENANTS ?? []),
    },
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      groupId: e.KAFKA_GROUP_ID,
      sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: e.KAFKA_HEARTBEAT_INTERVAL_MS,
      compression: e.KAFKA_COMPRESSION,
    },
    topics: {
      requests: e.TOPIC_REQUESTS,
      replies: e.TOPIC_REPLIES,
      deadLetter: e.TOPIC_DLQ,
      // Requests may name their reply_topic, but only one of these (chatq must not write where it was not asked).
      allowedReplyTopics: new Set([e.TOPIC_REPLIES, ...(e.TOPIC_REPLIES_ALLOWED ?? [])]),
      partitions: e.TOPIC_PARTITIONS,
      create: e.TOPIC_CREATE,
    },
    database: {
      url: e.DATABASE_URL,
      schema: e.DATABASE_SCHEMA,
      poolSize: e.DATABASE_POOL_SIZE,
      migrateOnStart: e.DB_MIGRATE_ON_START,
    },
    redisUrl: e.REDIS_URL,
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseURL: e.OPENAI_BASE_URL,
      organization: e.OPENAI_ORGANIZATION,
      defaultModel: e.OPENAI_DEFAULT_MODEL,
      // Always a bounded set: a model name becomes a metric label and a limiter bucket, so it must not come
      // unchecked from producers. Default: the models chatq knows, the default model and any with limits.
      allowedModels: new Set(
        e.OPENAI_ALLOWED_MODELS ?? [
          ...knownModels(),
          e.OPENAI_DEFAULT_MODEL,
          ...Object.keys(e.OPENAI_MODEL_LIMITS ?? {}),
        ],
      ),
      timeoutMs: e.OPENAI_TIMEOUT_MS,
      retry: retryPolicyOf(e),
    },
    rateLimit: {
      limits: {
        default: { rpm: e.OPENAI_RPM, tpm: e.OPENAI_TPM },
        perModel: {
          ...(e.RETRIEVAL_STORE !== "off" && {
            [e.RETRIEVAL_EMBEDDING_MODEL]: { rpm: e.EMBEDDING_RPM, tpm: e.EMBEDDING_TPM },
          }),
          ...moderationLimits(e),
          ...e.OPENAI_MODEL_LIMITS,
        },
      },
      burstSliceMs: e.RATELIMIT_SLICE_MS,
      maxQueued: e.RATELIMIT_MAX_QUEUED,
      keyPrefix: e.RATELIMIT_KEY_PREFIX,
    },
    worker: {
      maxInFlight: e.WORKER_MAX_IN_FLIGHT,
      maxRequestBytes: e.REQUEST_MAX_BYTES,
      historyMaxMessages: e.HISTORY_MAX_MESSAGES,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
      authProbeMaxIntervalMs: e.AUTH_PROBE_MAX_INTERVAL_MS,
      circuitProbeMaxIntervalMs: e.CIRCUIT_PROBE_MAX_INTERVAL_MS,
      lagRefreshMs: e.LAG_REFRESH_MS,
    },
    context: {
      historyWindowShare: e.HISTORY_WINDOW_SHARE,
      summary: e.SUMMARY_ENABLED ? { model: e.SUMMARY_MODEL, maxTokens: e.SUMMARY_MAX_TOKENS } : undefined,
    },
    retrieval: retrievalConfig(e),
    batch: toBatchConfig(e),
    guardrails: e.GUARDRAILS_ENABLED ? { policyFile: e.GUARDRAILS_POLICY_FILE } : undefined,
    telemetry: { port: e.METRICS_PORT, host: e.METRICS_HOST },
    log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY, logContent: e.LOG_CONTENT },
    encryption: encryptionSettings(e),
  };
}

function moderationLimits(e: z.infer<typeof EnvSchema>): Record<string, { rpm: number; tpm: number }> {
  if (!e.GUARDRAILS_ENABLED) return {};
  return { [DEFAULT_MODERATION_MODEL]: { rpm: e.MODERATION_RPM, tpm: e.MODERATION_TPM } };
}

export type RetrievalConfig = ReturnType<typeof retrievalConfig>;

function retrievalConfig(e: z.infer<z.ZodObject<typeof RETRIEVAL_ENV>>) {
  return {
    store: e.RETRIEVAL_STORE,
    dataDir: e.RETRIEVAL_DATA_DIR,
    embedding: {
      model: e.RETRIEVAL_EMBEDDING_MODEL,
      dimensions: e.RETRIEVAL_DIMENSIONS,
      // 2048 inputs is the API's limit per call; 100k tokens keeps one call's TPM charge modest.
      maxInputs: 256,
      maxTokens: 100_000,
    },
    chunking: { maxTokens: e.RETRIEVAL_CHUNK_TOKENS, overlapTokens: e.RETRIEVAL_CHUNK_OVERLAP_TOKENS },
    tenantDefaults: e.RETRIEVAL_TENANT_DEFAULTS ?? {},
  };
}

const DocsEnvSchema = EnvSchema.pick({
  DATABASE_URL: true,
  DATABASE_SCHEMA: true,
  REDIS_URL: true,
  OPENAI_API_KEY: true,
  OPENAI_BASE_URL: true,
  OPENAI_ORGANIZATION: true,
  OPENAI_TIMEOUT_MS: true,
  OPENAI_RETRY_DEADLINE_MS: true,
  OPENAI_MAX_ATTEMPTS: true,
  OPENAI_RETRY_BASE_MS: true,
  OPENAI_RETRY_MAX_MS: true,
  RATELIMIT_SLICE_MS: true,
  RATELIMIT_KEY_PREFIX: true,
}).extend(RETRIEVAL_ENV);

/** What `chatq docs` needs: the store, the API, the shared budget. Same names and defaults as the worker's. */
export function loadDocsConfig(env: Record<string, string | undefined> = process.env) {
  const e = parseEnv(DocsEnvSchema, env);
  return {
    databaseUrl: e.DATABASE_URL,
    schema: e.DATABASE_SCHEMA,
    redisUrl: e.REDIS_URL,
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseURL: e.OPENAI_BASE_URL,
      organization: e.OPENAI_ORGANIZATION,
      timeoutMs: e.OPENAI_TIMEOUT_MS,
      retry: retryPolicyOf(e),
    },
    rateLimit: {
      limits: {
        default: { rpm: 0, tpm: 0 },
        perModel: { [e.RETRIEVAL_EMBEDDING_MODEL]: { rpm: e.EMBEDDING_RPM, tpm: e.EMBEDDING_TPM } },
      },
      burstSliceMs: e.RATELIMIT_SLICE_MS,
      keyPrefix: e.RATELIMIT_KEY_PREFIX,
    },
    retrieval: retrievalConfig(e),
  };
}
export type DocsConfig = ReturnType<typeof loadDocsConfig>;

function retryPolicyOf(
  e: Pick<
    z.infer<typeof EnvSchema>,
    "OPENAI_RETRY_DEADLINE_MS" | "OPENAI_MAX_ATTEMPTS" | "OPENAI_RETRY_BASE_MS" | "OPENAI_RETRY_MAX_MS"
  >,
) {
  return {
    deadlineMs: e.OPENAI_RETRY_DEADLINE_MS,
    maxAttempts: e.OPENAI_MAX_ATTEMPTS,
    baseDelayMs: e.OPENAI_RETRY_BASE_MS,
    maxDelayMs: e.OPENAI_RETRY_MAX_MS,
  };
}
