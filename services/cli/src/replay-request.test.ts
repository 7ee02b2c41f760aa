import { decodeChatRequest } from "@chatq/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { replayId, replayRequest } from "./replay-request.ts";

const job = "0f8e6b1c-3d2a-4c1b-9e7f-123456789abc";

describe("replay requests", () => {
  it("ids are stable per job, distinct per original, and always valid request ids", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 128 }), { minLength: 2, maxLength: 20 }),
        (ids) => {
          const out = ids.map((id) => replayId(job, id));
          expect(new Set(out).size).toBe(ids.length);
          for (const [i, id] of ids.entries()) {
            expect(replayId(job, id)).toBe(out[i]);
            expect((out[i] as string).length).toBeLessThanOrEqual(128);
          }
        },
      ),
    );
  });

  it("links to the original at batch priority, in the job's own conversation, on the model asked for", () => {
    const r = replayRequest(
      {
        request_id: "r-1",
        conversation_id: "c-1",
        tenant: "acme",
        model: "gpt-4o-mini",
        priority: "interactive",
        reply_topic: "chat.replies.gateway.gw-1",
        messages: [{ role: "user", content: "hi" }],
      },
      job,
      { model: "gpt-4.1-mini", now: new Date("2026-12-02T00:00:00Z") },
    );
    expect(r).toEqual({
      request_id: "r-1~r0f8e6b1c",
      replay_of: "r-1",
      conversation_id: "replay-0f8e6b1c:c-1",
      tenant: "acme",
      model: "gpt-4.1-mini",
      priority: "batch",
      created_at: "2026-12-02T00:00:00.000Z",
      messages: [{ role: "user", content: "hi" }],
    });
    const decoded = decodeChatRequest(Buffer.from(JSON.stringify(r)), { maxBytes: 1 << 20 });
    expect(decoded.ok).toBe(true);
  });
});
