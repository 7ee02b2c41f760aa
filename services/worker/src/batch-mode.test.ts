import { describe, expect, it } from "vitest";
import { type BatchModeSettings, batchApiEnabled, goesToBatchApi } from "./batch-mode.ts";

const settings: BatchModeSettings = {
  default: "sync",
  tenants: { acme: "batch_api", beta: "auto" },
  routes: { "gpt-4o": "sync" },
  topics: ["chat.requests.replay"],
};
const job = (
  priority: "interactive" | "batch",
  tenant: string,
  model = "gpt-4o-mini",
  topic = "chat.requests",
) => ({
  priority,
  model,
  source: { topic } as never,
  request: { request_id: "r", tenant, messages: [] },
});

describe("batch mode", () => {
  it("sends only batch work, per tenant and route, with a route's mode first", () => {
    const idle = () => false;
    expect(goesToBatchApi(job("batch", "acme"), settings, idle)).toBe(true);
    expect(goesToBatchApi(job("interactive", "acme"), settings, idle)).toBe(false);
    expect(goesToBatchApi(job("batch", "acme", "gpt-4o"), settings, idle)).toBe(false);
    expect(goesToBatchApi(job("batch", "other"), settings, idle)).toBe(false);
    expect(
      goesToBatchApi(job("interactive", "acme", "gpt-4o-mini", "chat.requests.replay"), settings, idle),
    ).toBe(true);
  });

  it("auto uses the Batch API only while the synchronous budget is busy", () => {
    expect(goesToBatchApi(job("batch", "beta"), settings, () => false)).toBe(false);
    expect(goesToBatchApi(job("batch", "beta"), settings, () => true)).toBe(true);
  });

  it("is off unless some setting turns it on", () => {
    expect(batchApiEnabled({ default: "sync", tenants: {}, routes: {}, topics: ["x"] })).toBe(false);
    expect(batchApiEnabled(settings)).toBe(true);
  });
});
