import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

const minimal = {
  KAFKA_BROKERS: "127.0.0.1:9092",
  DATABASE_URL: "postgres://postgres@127.0.0.1:5432/chatq",
  OPENAI_API_KEY: "sk-test",
  CHATQ_MASTER_KEY: Buffer.alloc(32, 1).toString("base64"),
};

describe("loadConfig", () => {
  it("encrypts by default and refuses to start without a master key unless ENCRYPTION=off", () => {
    expect(loadConfig(minimal).encryption.enabled).toBe(true);
    const { CHATQ_MASTER_KEY: _key, ...keyless } = minimal;
    expect(() => loadConfig(keyless)).toThrow(/CHATQ_MASTER_KEY/);
    expect(loadConfig({ ...keyless, ENCRYPTION: "off" }).encryption.enabled).toBe(false);
  });

  it("fills defaults around the required values", () => {
    const c = loadConfig(minimal);
    expect(c.kafka.brokers).toEqual(["127.0.0.1:9092"]);
    expect(c.topics.requests).toBe("chat.requests");
    expect(c.worker.maxInFlight).toBe(2_000);
    expect(c.redisUrl).toBeUndefined();
    expect(c.kafka.compression).toBe("lz4");
  });

  it("takes any of Kafka's codecs for what it produces, and nothing else", () => {
    for (const codec of ["none", "gzip", "snappy", "lz4", "zstd"])
      expect(loadConfig({ ...minimal, KAFKA_COMPRESSION: codec }).kafka.compression).toBe(codec);
    expect(() => loadConfig({ ...minimal, KAFKA_COMPRESSION: "brotli" })).toThrow(/KAFKA_COMPRESSION/);
  });

  it("runs no guardrails unless asked, and gives the moderation model its own limits when on", () => {
    expect(loadConfig(minimal).guardrails).toBeUndefined();
    expect(loadConfig(minimal).rateLimit.limits.perModel["omni-moderation-latest"]).toBeUndefined();
    const on = loadConfig({ ...minimal, GUARDRAILS_ENABLED: "true", MODERATION_RPM: "42" });
    expect(on.guardrails).toEqual({ policyFile: undefined });
    expect(on.rateLimit.limits.perModel["omni-moderation-latest"]).toEqual({ rpm: 42, tpm: 150_000 });
  });

  it("names every bad or missing value in one error", () => {
    const err = thrownBy(() =>
      loadConfig({ KAFKA_BROKERS: "nohost", WORKER_MAX_IN_FLIGHT: "-3", OPENAI_MODEL_LIMITS: "{bad" }),
    );
    expect(err).toBeInstanceOf(ConfigError);
    for (const name of [
      "KAFKA_BROKERS",
      "DATABASE_URL",
      "OPENAI_API_KEY",
      "WORKER_MAX_IN_FLIGHT",
      "OPENAI_MODEL_LIMITS",
    ]) {
      expect(err.message).toContain(name);
    }
  });

  it("never puts the API key in an error message", () => {
    const err = thrownBy(() =>
      loadConfig({ ...minimal, OPENAI_API_KEY: "sk-secret-123", OPENAI_BASE_URL: "ftp://x" }),
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain("OPENAI_BASE_URL");
    expect(err.message).not.toContain("sk-secret-123");
  });

  it("allows only known models by default, so producers cannot invent metric labels or limiter buckets", () => {
    const c = loadConfig({
      ...minimal,
      OPENAI_DEFAULT_MODEL: "my-finetune",
      OPENAI_MODEL_LIMITS: '{"gpt-x":{"rpm":1,"tpm":1}}',
    });
    expect(c.openai.allowedModels.has("gpt-4o-mini")).toBe(true);
    expect(c.openai.allowedModels.has("my-finetune")).toBe(true);
    expect(c.openai.allowedModels.has("gpt-x")).toBe(true);
    expect(c.openai.allowedModels.has("random-model-123")).toBe(false);
  });

  it("parses per-model limits and allow-lists", () => {
    const c = loadConfig({
      ...minimal,
      OPENAI_MODEL_LIMITS: '{"gpt-4o":{"rpm":10,"tpm":1000}}',
      OPENAI_ALLOWED_MODELS: "gpt-4o, gpt-4o-mini",
    });
    expect(c.rateLimit.limits.perModel).toEqual({ "gpt-4o": { rpm: 10, tpm: 1000 } });
    expect(c.openai.allowedModels?.has("gpt-4o-mini")).toBe(true);
  });
});

/** The error fn throws; fails the test when it returns (a catch around the call would swallow that failure). */
function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`threw a non-Error: ${String(err)}`);
  }
  throw new Error("expected loadConfig to throw, but it returned");
}
