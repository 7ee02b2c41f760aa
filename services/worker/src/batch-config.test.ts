import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";

const base = {
  KAFKA_BROKERS: "127.0.0.1:9092",
  DATABASE_URL: "postgres://x@127.0.0.1/db",
  OPENAI_API_KEY: "sk-x",
  ENCRYPTION: "off",
};

describe("batch configuration", () => {
  it("is off by default", () => {
    const c = loadConfig(base).batch;
    expect(c.modes).toEqual({ default: "sync", tenants: {}, routes: {}, topics: [] });
    expect(c.maxRequests).toBe(50_000);
  });

  it("reads modes per tenant and route, and batch topics", () => {
    const c = loadConfig({
      ...base,
      BATCH_MODE: "auto",
      BATCH_MODES: '{"tenants":{"acme":"batch_api"}}',
      BATCH_TOPICS: "chat.requests.replay",
    }).batch;
    expect(c.modes).toEqual({
      default: "auto",
      tenants: { acme: "batch_api" },
      routes: {},
      topics: ["chat.requests.replay"],
    });
  });

  it("refuses limits past the API's and unknown modes", () => {
    expect(() => loadConfig({ ...base, BATCH_MAX_REQUESTS: "50001" })).toThrow(/BATCH_MAX_REQUESTS/);
    expect(() => loadConfig({ ...base, BATCH_MODES: '{"tenants":{"a":"fast"}}' })).toThrow(/BATCH_MODES/);
  });
});
