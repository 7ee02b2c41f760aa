import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

const base = {
  KAFKA_BROKERS: "127.0.0.1:9092",
  DATABASE_URL: "postgres://postgres@127.0.0.1/chatq",
  GATEWAY_KEY_PEPPER: "a-pepper-of-16-chars",
  ENCRYPTION: "off",
};

describe("gateway config", () => {
  it("names every bad value in one error", () => {
    try {
      loadConfig({ KAFKA_BROKERS: "nohost", GATEWAY_KEY_PEPPER: "short" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join("\n");
      expect(problems).toMatch(/KAFKA_BROKERS/);
      expect(problems).toMatch(/DATABASE_URL/);
      expect(problems).toMatch(/GATEWAY_KEY_PEPPER/);
    }
  });

  it("derives this replica's reply topic under the prefix the workers allow", () => {
    const c = loadConfig({ ...base, TOPIC_REPLIES: "chat.replies", GATEWAY_INSTANCE_ID: "gw-7" });
    expect(c.topics.replyTopic).toBe("chat.replies.gateway.gw-7");
    expect(c.topics.replyTopic.startsWith(c.topics.replyTopicPrefix)).toBe(true);
  });

  it("wants both TLS files or neither, and caps the key cache at 1 s", () => {
    expect(() => loadConfig({ ...base, GATEWAY_TLS_CERT: "/c.pem" })).toThrow(/set both or neither/);
    expect(() => loadConfig({ ...base, GATEWAY_KEY_CACHE_MS: "5000" })).toThrow(ConfigError);
  });
});
