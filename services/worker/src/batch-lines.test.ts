import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batchLine, packLines, parseResultFile, parseResultLine } from "./batch-lines.ts";

describe("batch lines", () => {
  it("writes one JSONL line per request with custom_id = request_id and the request's params", () => {
    const line = JSON.parse(
      batchLine(
        { request_id: "r-1", messages: [{ role: "user", content: "hi" }], params: { max_tokens: 5 } },
        "gpt-4o-mini",
      ),
    );
    expect(line).toEqual({
      custom_id: "r-1",
      method: "POST",
      url: "/v1/chat/completions",
      body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 5 },
    });
  });

  it("packs every line exactly once, in order, no file over the count or byte limit", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 400 }),
        (lines, maxCount, maxBytes) => {
          const items = lines.map((line, i) => ({ line, i }));
          const files = packLines(items, maxCount, maxBytes);
          expect(files.flat().map((x) => x.i)).toEqual(items.map((x) => x.i));
          for (const f of files) {
            expect(f.length).toBeLessThanOrEqual(maxCount);
            const bytes = f.reduce((n, x) => n + Buffer.byteLength(x.line) + 1, 0);
            if (f.length > 1) expect(bytes).toBeLessThanOrEqual(maxBytes);
          }
        },
      ),
    );
  });

  it("reads answers, the request's own errors, and what must be resubmitted", () => {
    const results = parseResultFile(
      [
        JSON.stringify({
          id: "b1",
          custom_id: "a",
          response: {
            status_code: 200,
            body: {
              model: "gpt-4o-mini-2024-07-18",
              choices: [{ message: { content: "yes" }, finish_reason: "stop" }],
              usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
            },
          },
          error: null,
        }),
        JSON.stringify({
          custom_id: "b",
          response: {
            status_code: 400,
            body: { error: { code: "context_length_exceeded", message: "long" } },
          },
        }),
        JSON.stringify({ custom_id: "c", response: { status_code: 500, body: {} } }),
        JSON.stringify({ custom_id: "d", response: null, error: { code: "batch_expired", message: "late" } }),
        "not json",
        "",
      ].join("\n"),
    );
    expect(results.map((r) => [r.customId, r.kind])).toEqual([
      ["a", "answer"],
      ["b", "error"],
      ["c", "retry"],
      ["d", "retry"],
    ]);
    expect(results[1]).toMatchObject({ code: "context_length" });
    expect(results[0]).toMatchObject({ answer: { content: "yes", usage: { total_tokens: 4 } } });
  });

  it("never throws on any line", () => {
    fc.assert(fc.property(fc.string(), (s) => void parseResultLine(s)));
    fc.assert(fc.property(fc.jsonValue(), (v) => void parseResultLine(JSON.stringify(v))));
  });
});
