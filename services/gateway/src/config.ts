import { randomBytes } from "node:crypto";
import {
  brokers,
  ConfigError,
  csv,
  encryptionFields,
  encryptionSettings,
  int,
  logLevel,
  parseEnv,
  sqlIdentifier,
  url,
} from "@chatq/config";
import { DEFAULT_TOPICS } from "@chatq/contracts";
import { knownModels } from "@chatq/llm";
import { encryptionProblem } from "@chatq/vault";
import { z } from "zod";

/** Every environment variable the gateway reads, with its default. The README's configuration table mirrors this. */
const EnvSchema = z.object({
  GATEWAY_PORT: int(0, 65_535).default(8080),
  GATEWAY_HOST: z.string().default("0.0.0.0"),
  // The secret keyed into every API key's hash: without it a stolen api_keys table cannot be checked offline.
  GATEWAY_KEY_PEPPER: z.string().min(16, "must be a secret of at least 16 characters"),
  GATEWAY_INSTANCE_ID: z
    .string()
    .regex(/^[a-z0-9-]{1,40}$/, "must be 1-40 of a-z 0-9 -")
    .default(`gw-${randomBytes(4).toString("hex")}`),
  GATEWAY_REPLY_TIMEOUT_MS: int(100).default(120_000),
  GATEWAY_PUBLISH_TIMEOUT_MS: int(100).default(5_000),
  GATEWAY_BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024).default(256 * 1024),
  GATEWAY_HEADERS_TIMEOUT_MS: int(100).default(10_000),
  GATEWAY_BODY_TIMEOUT_MS: int(100).default(10_000),
  GATEWAY_CORS_ORIGINS: csv.optional(),
  GATEWAY_TLS_CERT: z.string().optional(),
  GATEWAY_TLS_KEY: z.string().optional(),
  GATEWAY_ALLOWED_MODELS: csv.optional(),
  GATEWAY_DEFAULT_MODEL: z.string().min(1).default("gpt-4o-mini"),
  GATEWAY_KEY_CACHE_MS: int(0, 1_000).default(500),
  GATEWAY_QUOTA_WAIT_MS: int(0, 60_000).default(100),
  GATEWAY_INSTANCE_TTL_MS: int(1_000).default(10 * 60_000),
  GATEWAY_WEBHOOK_POLL_MS: int(50).default(1_000),
  GATEWAY_WEBHOOK_MAX_ATTEMPTS: int(1, 100).default(10),
  GATEWAY_WEBHOOK_TIMEOUT_MS: int(100).default(5_000),
  KAFKA_BROKERS: brokers,
  TOPIC_REQUESTS: z.string().min(1).default(DEFAULT_TOPICS.requests),
  TOPIC_REPLIES: z.string().min(1).default(DEFAULT_TOPICS.replies),
  DATABASE_URL: url(["postgres:", "postgresql:"]),
  DATABASE_SCHEMA: sqlIdentifier.optional(),
  REDIS_URL: url(["redis:", "rediss:"]).optional(),
  RATELIMIT_KEY_PREFIX: z.string().default("chatq"),
  LOG_LEVEL: logLevel.default("info"),
  // Data protection (README: Data protection): the gateway opens stored replies, so it holds the same master key.
  ...encryptionFields,
});

export type GatewayConfig = ReturnType<typeof toConfig>;

/** Every variable the gateway reads: packaging (compose, Kubernetes) may set these and no others. */
export const GATEWAY_ENV_KEYS: readonly string[] = Object.keys(EnvSchema.shape);

/** How long a stopping gateway may take (finish open calls, delete its reply topic) before it exits anyway. */
export const GATEWAY_HARD_STOP_MS = 20_000;

export { ConfigError };

export function loadConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const e = parseEnv(EnvSchema, env);
  if ((e.GATEWAY_TLS_CERT === undefined) !== (e.GATEWAY_TLS_KEY === undefined)) {
    throw new ConfigError(["GATEWAY_TLS_CERT and GATEWAY_TLS_KEY: set both or neither"]);
  }
  const config = toConfig(e);
  const problem = encryptionProblem(config.encryption);
  if (problem !== undefined) throw new ConfigError([problem]);
  return config;
}

/** The prefix of every gateway replica's reply topic; the workers allow it with TOPIC_REPLIES_ALLOWED=<prefix>*. */
export function gatewayReplyTopicPrefix(repliesTopic: string): string {
  return `${repliesTopic}.gateway.`;
}

function toConfig(e: z.infer<typeof EnvSchema>) {
  return {
    http: {
      port: e.GATEWAY_PORT,
      host: e.GATEWAY_HOST,
      bodyLimitBytes: e.GATEWAY_BODY_LIMIT_BYTES,
      headersTimeoutMs: e.GATEWAY_HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: e.GATEWAY_BODY_TIMEOUT_MS,
      corsOrigins: new Set(e.GATEWAY_CORS_ORIGINS ?? []),
      tls:
        e.GATEWAY_TLS_CERT !== undefined && e.GATEWAY_TLS_KEY !== undefined
          ? { certFile: e.GATEWAY_TLS_CERT, keyFile: e.GATEWAY_TLS_KEY }
          : undefined,
    },
    instanceId: e.GATEWAY_INSTANCE_ID,
    instanceTtlMs: e.GATEWAY_INSTANCE_TTL_MS,
    replyTimeoutMs: e.GATEWAY_REPLY_TIMEOUT_MS,
    publishTimeoutMs: e.GATEWAY_PUBLISH_TIMEOUT_MS,
    keyPepper: e.GATEWAY_KEY_PEPPER,
    webhooks: {
      pollMs: e.GATEWAY_WEBHOOK_POLL_MS,
      maxAttempts: e.GATEWAY_WEBHOOK_MAX_ATTEMPTS,
      timeoutMs: e.GATEWAY_WEBHOOK_TIMEOUT_MS,
    },
    keyCacheMs: e.GATEWAY_KEY_CACHE_MS,
    quotaWaitMs: e.GATEWAY_QUOTA_WAIT_MS,
    // A bounded set, as in the worker: a model name becomes a metric label and a limiter bucket downstream.
    allowedModels: new Set(e.GATEWAY_ALLOWED_MODELS ?? [...knownModels(), e.GATEWAY_DEFAULT_MODEL]),
    defaultModel: e.GATEWAY_DEFAULT_MODEL,
    kafka: { brokers: e.KAFKA_BROKERS, clientId: `chatq-${e.GATEWAY_INSTANCE_ID}` },
    topics: {
      requests: e.TOPIC_REQUESTS,
      replyTopic: `${gatewayReplyTopicPrefix(e.TOPIC_REPLIES)}${e.GATEWAY_INSTANCE_ID}`,
      replyTopicPrefix: gatewayReplyTopicPrefix(e.TOPIC_REPLIES),
    },
    database: { url: e.DATABASE_URL, schema: e.DATABASE_SCHEMA },
    redis: e.REDIS_URL === undefined ? undefined : { url: e.REDIS_URL, keyPrefix: e.RATELIMIT_KEY_PREFIX },
    log: { level: e.LOG_LEVEL },
    encryption: encryptionSettings(e),
  };
}
