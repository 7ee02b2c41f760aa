import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import type { Services } from "./services.ts";

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, "../..");

type Stop = () => Promise<unknown>;
const stops: Stop[] = [];

/**
 * Finds the real services the integration tests need, in this order:
 *   1. KAFKA_BROKERS / DATABASE_URL / REDIS_URL when set;
 *   2. testcontainers, when a Docker engine answers;
 *   3. the local stack (infra/local/stack-up.sh), started when it is not running.
 * Integration tests never skip: without any of the three, the run fails with one message saying what to do.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = {
    kafka: process.env.KAFKA_BROKERS,
    postgres: process.env.DATABASE_URL,
    redis: process.env.REDIS_URL,
  };
  const source: Services["source"] = { kafka: "env", postgres: "env", redis: "env" };
  const found: Partial<Record<keyof typeof fromEnv, string>> = {};
  const missing: (keyof typeof fromEnv)[] = [];
  for (const k of Object.keys(fromEnv) as (keyof typeof fromEnv)[]) {
    const value = fromEnv[k];
    if (value) found[k] = value;
    else missing.push(k);
  }
  if (missing.length > 0) {
    const viaContainers = (await dockerAnswers()) ? await startContainers(missing) : undefined;
    const started = viaContainers ?? (await startLocalStack());
    for (const k of missing) {
      const value = started[k];
      if (value) found[k] = value;
      source[k] = viaContainers ? "testcontainers" : "local-stack";
    }
  }

  const services: Services = {
    kafkaBrokers: required(found.kafka, "KAFKA_BROKERS").split(","),
    databaseUrl: testDatabase(required(found.postgres, "DATABASE_URL")),
    redisUrl: required(found.redis, "REDIS_URL"),
    source,
  };
  console.log(`[integration] services: ${JSON.stringify(services)}`);
  project.provide("services", services);
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}

function required(value: string | undefined, name: string): string {
  if (value) return value;
  throw new Error(
    `Integration tests need ${name}. Do one of: (1) export KAFKA_BROKERS, DATABASE_URL and REDIS_URL; ` +
      "(2) run a Docker engine so testcontainers can start them; (3) run `pnpm stack:up` (local Kafka, Postgres, Redis).",
  );
}

/** Tests own a database of their own so they never touch the demo's data. */
function testDatabase(url: string): string {
  const u = new URL(url);
  if (u.pathname === "/chatq" || u.pathname === "/" || u.pathname === "") u.pathname = "/chatq_test";
  return u.toString();
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

type Found = Partial<Record<"kafka" | "postgres" | "redis", string>>;

async function startContainers(which: string[]): Promise<Found> {
  const out: Found = {};
  if (which.includes("kafka")) {
    const { KafkaContainer } = await import("@testcontainers/kafka");
    const kafka = await new KafkaContainer("confluentinc/cp-kafka:7.7.1").withKraft().start();
    stops.push(() => kafka.stop());
    out.kafka = `${kafka.getHost()}:${kafka.getMappedPort(9093)}`;
  }
  if (which.includes("postgres")) {
    const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
    const pg = await new PostgreSqlContainer("postgres:16-alpine").withDatabase("chatq_test").start();
    stops.push(() => pg.stop());
    out.postgres = pg.getConnectionUri();
  }
  if (which.includes("redis")) {
    const { RedisContainer } = await import("@testcontainers/redis");
    const redis = await new RedisContainer("redis:7-alpine").start();
    stops.push(() => redis.stop());
    out.redis = redis.getConnectionUrl();
  }
  return out;
}

async function startLocalStack(): Promise<Found> {
  try {
    const { stdout } = await run("bash", [resolve(repoRoot, "infra/local/stack-up.sh")], {
      cwd: repoRoot,
      maxBuffer: 16 * 1024 * 1024,
    });
    process.stdout.write(stdout);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `No Kafka/Postgres/Redis for integration tests: env vars unset, no Docker engine, and the local stack failed to start.\n` +
        `${e.stdout ?? ""}${e.stderr ?? e.message}\n` +
        "Fix the local stack (`pnpm stack:up`), or export KAFKA_BROKERS, DATABASE_URL and REDIS_URL.",
    );
  }
  return {
    kafka: "127.0.0.1:9092",
    postgres: "postgres://postgres@127.0.0.1:5432/chatq_test",
    redis: "redis://127.0.0.1:6379",
  };
}
