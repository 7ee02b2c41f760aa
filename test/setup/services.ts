import { inject } from "vitest";

/** Where the real Kafka, Postgres and Redis of this test run are (found by global-setup.ts). */
export interface Services {
  kafkaBrokers: string[];
  databaseUrl: string;
  redisUrl: string;
  /** How they were found, for the log: "env", "testcontainers" or "local-stack". */
  source: Record<"kafka" | "postgres" | "redis", string>;
}

declare module "vitest" {
  export interface ProvidedContext {
    services: Services;
  }
}

export function services(): Services {
  return inject("services");
}
