import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";

function capture(opts: { logContent?: boolean } = {}) {
  let out = "";
  const destination = new Writable({
    write(chunk, _encoding, done) {
      out += String(chunk);
      done();
    },
  });
  const log = createLogger({ level: "info", name: "chatq-test", destination, ...opts });
  return {
    log,
    lines: () =>
      out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const request = {
  request_id: "r-1",
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "my secret diagnosis" }],
};

describe("createLogger", () => {
  it("redacts message content by default but keeps the fields SREs need", () => {
    const { log, lines } = capture();
    log.info({ request, content: "the answer", reply: { choices: [{ message: { content: "x" } }] } }, "done");
    const [line] = lines();
    expect(JSON.stringify(line)).not.toContain("diagnosis");
    expect(JSON.stringify(line)).not.toContain("the answer");
    expect(line).toMatchObject({
      name: "chatq-test",
      msg: "done",
      content: "[redacted]",
      request: { request_id: "r-1", model: "gpt-4o-mini", messages: "[redacted]" },
      reply: { choices: "[redacted]" },
    });
  });

  it("never logs credentials, even with logContent", () => {
    for (const logContent of [false, true]) {
      const { log, lines } = capture({ logContent });
      log.info({
        apiKey: "sk-top-1",
        config: { apiKey: "sk-nested-2", openaiApiKey: "sk-cfg-3", database: { password: "pw-4" } },
        headers: { authorization: "Bearer sk-hdr-5" },
        err: { headers: { authorization: "Bearer sk-err-6" } },
        api_key: "sk-snake-7",
      });
      const text = JSON.stringify(lines());
      expect(text, `logContent=${logContent}`).not.toMatch(/sk-|pw-4/);
      expect(text).toContain("[redacted]");
    }
  });

  it("logs message content when logContent is on", () => {
    const { log, lines } = capture({ logContent: true });
    log.info({ request }, "received");
    expect(JSON.stringify(lines())).toContain("my secret diagnosis");
  });

  it("honours the level", () => {
    const { log, lines } = capture();
    log.debug("hidden");
    log.warn("shown");
    expect(lines().map((l) => l.msg)).toEqual(["shown"]);
  });
});
