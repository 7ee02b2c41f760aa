import { randomBytes } from "node:crypto";
import { services } from "../setup/services.ts";

/** Names no other test uses: topics, consumer group, Postgres schema, Redis prefix. */
export function uniqueScenario(label: string) {
  const id = `${label}_${randomBytes(4).toString("hex")}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  return {
    id,
    topics: { requests: `${id}.requests`, replies: `${id}.replies`, deadLetter: `${id}.dlq` },
    groupId: `${id}-workers`,
    schema: `t_${id}`,
    redisPrefix: `chatq-test:${id}`,
    services: services(),
  };
}
export type Scenario = ReturnType<typeof uniqueScenario>;
