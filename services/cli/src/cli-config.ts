import { DEFAULT_TOPICS } from "@chatq/contracts";
import { localMasterKeyFile } from "./local-master-key.ts";

/** The CLI's view of the environment: where the stack is. Defaults are the local stack's. */
export function cliEnv(env: Record<string, string | undefined> = process.env) {
  return {
    kafkaBrokers: (env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
    databaseUrl: env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/chatq",
    databaseSchema: env.DATABASE_SCHEMA,
    keyPepper: env.GATEWAY_KEY_PEPPER,
    // The worker's price settings, so `chatq prices check` checks against the same table.
    pricesFile: env.PRICES_FILE,
    pricesVersion: env.PRICES_VERSION,
    priceOverrides:
      env.PRICES_OVERRIDES === undefined
        ? undefined
        : (JSON.parse(env.PRICES_OVERRIDES) as Record<string, { input: number; output: number }>),
    redisUrl: env.REDIS_URL ?? "redis://127.0.0.1:6379",
    // The services' master key (README: Data protection): the CLI reads and re-keys what they sealed.
    encryption: {
      enabled: (env.ENCRYPTION ?? "on") !== "off",
      masterKey: env.CHATQ_MASTER_KEY,
      masterKeyFile:
        env.CHATQ_MASTER_KEY_FILE ??
        (env.CHATQ_MASTER_KEY === undefined ? localMasterKeyFile(env) : undefined),
    },
    openaiApiKey: env.OPENAI_API_KEY,
    openaiBaseUrl: env.OPENAI_BASE_URL,
    metricsPort: Number(env.METRICS_PORT ?? 9464),
    gatewayPort: Number(env.GATEWAY_PORT ?? 8080),
    topics: {
      requests: env.TOPIC_REQUESTS ?? DEFAULT_TOPICS.requests,
      replies: env.TOPIC_REPLIES ?? DEFAULT_TOPICS.replies,
      deadLetter: env.TOPIC_DLQ ?? DEFAULT_TOPICS.deadLetter,
      replay: env.TOPIC_REPLAY ?? DEFAULT_TOPICS.replay,
    },
  };
}
export type CliEnv = ReturnType<typeof cliEnv>;
