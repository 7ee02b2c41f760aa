import { describe, expect, it } from "vitest";
import { deadLetterReplay } from "./dead-letter-replay.ts";

const job = "abcdef12-0000-0000-0000-000000000000";
const now = new Date("2026-12-02T00:00:00Z");

describe("dead-letter replay", () => {
  it("gives the message a new id linked to the old one", () => {
    const out = deadLetterReplay(
      {
        id: "0:7",
        value: Buffer.from(JSON.stringify({ request_id: "r-9", messages: [{ role: "user", content: "x" }] })),
      },
      job,
      now,
    );
    expect(out).toEqual({
      ok: true,
      request: {
        request_id: "r-9~rabcdef12",
        replay_of: "r-9",
        created_at: "2026-12-02T00:00:00.000Z",
        messages: [{ role: "user", content: "x" }],
      },
    });
  });

  it("links a message without an id to the dead letter, and refuses bytes that are no request", () => {
    const out = deadLetterReplay({ id: "1:3", value: Buffer.from('{"messages":[]}') }, job, now);
    expect(out.ok && out.request.replay_of).toBe("dlq:1:3");
    expect(deadLetterReplay({ id: "1:4", value: Buffer.from("\u00ff not json") }, job, now).ok).toBe(false);
    expect(deadLetterReplay({ id: "1:5", value: null }, job, now).ok).toBe(false);
    expect(deadLetterReplay({ id: "1:6", value: Buffer.from("[1]") }, job, now).ok).toBe(false);
  });
});
