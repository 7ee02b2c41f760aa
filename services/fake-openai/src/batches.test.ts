import OpenAI, { BadRequestError, toFile } from "openai";
import type { Batch } from "openai/resources/batches";
import { afterEach, describe, expect, it } from "vitest";
import { type FakeOpenAI, startFakeOpenAI } from "./index.ts";

let fake: FakeOpenAI | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

function jsonl(n: number, prefix = "r", model = "gpt-4o-mini"): string {
  const lines = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        custom_id: `${prefix}-${i}`,
        method: "POST",
        url: "/v1/chat/completions",
        body: { model, messages: [{ role: "user", content: `question ${i}` }] },
      }),
    );
  }
  return `${lines.join("\n")}\n`;
}

async function start(batches: Record<string, unknown>) {
  fake = await startFakeOpenAI({ batches });
  const client = new OpenAI({ apiKey: "sk-x", baseURL: fake.url, maxRetries: 0 });
  return { client, fake };
}

async function submit(client: OpenAI, text: string): Promise<Batch> {
  const file = await client.files.create({
    file: await toFile(Buffer.from(text), "in.jsonl"),
    purpose: "batch",
  });
  return client.batches.create({
    input_file_id: file.id,
    endpoint: "/v1/chat/completions",
    completion_window: "24h",
  });
}

async function until(client: OpenAI, id: string, done: (b: Batch) => boolean): Promise<Batch> {
  for (;;) {
    const b = await client.batches.retrieve(id);
    if (done(b)) return b;
    await new Promise((r) => setTimeout(r, 10));
  }
}

const final = (b: Batch) => ["completed", "failed", "expired", "cancelled"].includes(b.status);

describe("fake Batch API", () => {
  it("answers every line through validating, in_progress and finalizing, joined by custom_id", async () => {
    const { client } = await start({ time_scale: 10_000 });
    const created = await submit(client, jsonl(20));
    expect(created.status).toBe("validating");
    const seen = new Set<string>([created.status]);
    const done = await until(client, created.id, (b) => {
      seen.add(b.status);
      return final(b);
    });
    expect(done.status).toBe("completed");
    expect(done.request_counts).toEqual({ total: 20, completed: 20, failed: 0 });
    expect(done.error_file_id).toBeNull();
    const text = await (await client.files.content(done.output_file_id as string)).text();
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(new Set(lines.map((l) => l.custom_id)).size).toBe(20);
    expect(lines[0].response.status_code).toBe(200);
    expect(lines[0].response.body.object).toBe("chat.completion");
    expect(lines[0].response.body.choices[0].message.content).toMatch(/^Echo \(turn 1\): question/);
    expect(done.usage?.input_tokens).toBeGreaterThan(0);
  });

  it("refuses an upload that is not batch JSONL", async () => {
    const { client } = await start({});
    const err = await client.files
      .create({ file: await toFile(Buffer.from('{"custom_id":"a"}\n'), "in.jsonl"), purpose: "batch" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    const dup = `${jsonl(1)}${jsonl(1)}`;
    const err2 = await client.files
      .create({ file: await toFile(Buffer.from(dup), "in.jsonl"), purpose: "batch" })
      .catch((e: unknown) => e);
    expect((err2 as BadRequestError).code).toBe("duplicate_custom_id");
  });

  it("fails a batch over the model's enqueued-token limit with token_limit_exceeded", async () => {
    const { client } = await start({
      time_scale: 1000,
      seconds_per_request: 1000,
      enqueued_token_limit: 500,
    });
    const first = await submit(client, jsonl(30, "a"));
    await until(client, first.id, (b) => b.status === "in_progress");
    const second = await submit(client, jsonl(30, "b"));
    const failed = await until(client, second.id, final);
    expect(failed.status).toBe("failed");
    expect(failed.errors?.data?.[0]?.code).toBe("token_limit_exceeded");
    expect(failed.output_file_id).toBeNull();
  });

  it("expires with the answers so far in the output and the rest as batch_expired", async () => {
    const { client, fake } = await start({ time_scale: 1000, seconds_per_request: 2 });
    const created = await submit(client, jsonl(1000));
    await until(client, created.id, (b) => (b.request_counts?.completed ?? 0) > 0);
    const admin = await fetch(`${fake.url.replace(/\/v1$/, "")}/_fake/batches/${created.id}/expire`, {
      method: "POST",
    });
    expect(admin.status).toBe(200);
    const expired = await client.batches.retrieve(created.id);
    expect(expired.status).toBe("expired");
    const out = (await (await client.files.content(expired.output_file_id as string)).text())
      .trim()
      .split("\n");
    const errs = (await (await client.files.content(expired.error_file_id as string)).text())
      .trim()
      .split("\n");
    expect(out.length + errs.length).toBe(1000);
    expect(JSON.parse(errs[0] as string).error.code).toBe("batch_expired");
  });

  it("cancels: cancelling, then cancelled", async () => {
    const { client } = await start({ time_scale: 1000, seconds_per_request: 100 });
    const created = await submit(client, jsonl(10));
    const cancelling = await client.batches.cancel(created.id);
    expect(cancelling.status).toBe("cancelling");
    const done = await until(client, created.id, final);
    expect(done.status).toBe("cancelled");
    const list = await client.batches.list();
    expect(list.data.map((b) => b.id)).toContain(created.id);
  });
});
