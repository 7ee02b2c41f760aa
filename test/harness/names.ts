import { randomBytes } from "node:crypto";
import type { Services } from "../setup/services.ts";

/** Topic, group, schema and Redis names of one test or benchmark run, unique so runs never collide. */
export function scenarioFor(label: string, services: Services) {
  const id = `${label}_${randomBytes(4).toString("hex")}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  return {
    id,
    topics: { requests: `${id}.requests`, replies: `${id}.replies`, deadLetter: `${id}.dlq` },
    groupId: `${id}-workers`,
    schema: `t_${id}`,
    redisPrefix: `chatq-test:${id}`,
    services,
  };
}
export type Scenario = ReturnType<typeof scenarioFor>;

/** The environment every chatq service of a scenario shares: where the stack is, under the scenario's names. */
export function scenarioServiceEnv(s: Scenario): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    KAFKA_BROKERS: s.services.kafkaBrokers.join(","),
    DATABASE_URL: s.services.databaseUrl,
    DATABASE_SCHEMA: s.schema,
    REDIS_URL: s.services.redisUrl,
    RATELIMIT_KEY_PREFIX: s.redisPrefix,
    TOPIC_REQUESTS: s.topics.requests,
    TOPIC_REPLIES: s.topics.replies,
    // Tests that read content through SQL predate encryption at rest; the data protection tests turn it on.
    ENCRYPTION: "off",
  };
}
