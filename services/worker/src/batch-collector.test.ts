import { describe, expect, it } from "vitest";
import { BatchCollector } from "./batch-collector.ts";
import type { Job } from "./job.ts";

const job = (id: string, model = "gpt-4o-mini"): Job =>
  ({
    request: { request_id: id, messages: [{ role: "user", content: `q ${id}` }] },
    model,
    priority: "batch",
    key: id,
  }) as unknown as Job;

function collector(settings: Partial<ConstructorParameters<typeof BatchCollector>[0]> = {}) {
  const recorded: { model: string; ids: string[] }[] = [];
  const c = new BatchCollector(
    { maxRequests: 3, maxBytes: 1_000_000, maxWaitMs: 20, leaseMs: 0, deadlineMs: 1000, ...settings },
    {
      store: {
        handOver: async (b, ids) => {
          recorded.push({ model: b.model, ids: [...ids] });
          // r-dup was handed over before (a redelivery): not recorded again.
          return new Set(ids.filter((i) => i !== "r-dup"));
        },
      },
      owner: "w1",
      withStoreRetry: (fn) => fn(),
      now: Date.now,
      onHandedOver: () => {},
      onError: () => {},
    },
  );
  return { c, recorded };
}

describe("batch collector", () => {
  it("records a model's group at the count limit, one batch per model, and resolves its jobs", async () => {
    const { c, recorded } = collector();
    const done = ["a", "b", "c"].map((id) => c.add(job(id)));
    const other = c.add(job("d", "gpt-4o"));
    await Promise.all(done);
    expect(recorded).toEqual([{ model: "gpt-4o-mini", ids: ["a", "b", "c"] }]);
    await other; // flushed by age
    expect(recorded[1]).toEqual({ model: "gpt-4o", ids: ["d"] });
    expect(c.pending()).toBe(0);
  });

  it("splits before the byte limit", async () => {
    const { c, recorded } = collector({ maxRequests: 100, maxBytes: 250 });
    await Promise.all(["a", "b", "c"].map((id) => c.add(job(id))));
    expect(recorded.length).toBeGreaterThan(1);
    expect(recorded.flatMap((r) => r.ids)).toEqual(["a", "b", "c"]);
  });

  it("a job already in a batch still resolves (its first batch owns it); a stop lets go of what is waiting", async () => {
    const { c } = collector({ maxRequests: 1 });
    await expect(c.add(job("r-dup"))).resolves.toBeUndefined();
    const { c: c2 } = collector({ maxWaitMs: 10_000 });
    const waiting = c2.add(job("x"));
    c2.stop();
    await expect(waiting).rejects.toThrow(/stopping/);
    await expect(c2.add(job("y"))).rejects.toThrow(/stopped/);
  });
});
