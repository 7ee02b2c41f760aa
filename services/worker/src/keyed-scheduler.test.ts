import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KeyedScheduler } from "./keyed-scheduler.ts";

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("KeyedScheduler", () => {
  it("runs one key in order and different keys at the same time", async () => {
    const log: string[] = [];
    const gates = new Map<string, () => void>();
    const s = new KeyedScheduler<string>(
      (item) =>
        new Promise<void>((resolve) => {
          log.push(`start ${item}`);
          gates.set(item, () => {
            log.push(`end ${item}`);
            resolve();
          });
        }),
    );
    s.push("a", "a1");
    s.push("a", "a2");
    s.push("b", "b1");
    await tick();
    expect(log).toEqual(["start a1", "start b1"]);
    expect(s.size()).toBe(3);
    gates.get("a1")?.();
    await tick();
    expect(log).toContain("start a2");
    gates.get("a2")?.();
    gates.get("b1")?.();
    await tick();
    expect(s.size()).toBe(0);
    expect(s.activeKeys()).toBe(0);
  });

  it("per key, items complete in push order whatever the durations (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d"), fc.integer({ min: 0, max: 3 })), {
          minLength: 1,
          maxLength: 40,
        }),
        async (items) => {
          const done: { key: string; seq: number }[] = [];
          const s = new KeyedScheduler<{ key: string; seq: number; ticks: number }>(async (it) => {
            for (let i = 0; i < it.ticks; i++) await tick();
            done.push({ key: it.key, seq: it.seq });
          });
          for (const [seq, [key, ticks]] of items.entries()) s.push(key, { key, seq, ticks });
          while (s.size() > 0) await tick();
          for (const key of ["a", "b", "c", "d"]) {
            const seqs = done.filter((d) => d.key === key).map((d) => d.seq);
            expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
          }
          expect(done).toHaveLength(items.length);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("KeyedScheduler.stop", () => {
  it("lets running work finish and drops what waits behind its key", async () => {
    const ran: string[] = [];
    let release: () => void = () => {};
    const s = new KeyedScheduler<string>(async (item) => {
      ran.push(item);
      if (item === "a1") {
        await new Promise<void>((r) => {
          release = r;
        });
      }
    });
    s.push("a", "a1");
    s.push("a", "a2");
    s.push("a", "a3");
    await tick();
    s.stop();
    expect(s.size()).toBe(1);
    release();
    while (s.size() > 0) await tick();
    s.push("b", "b1");
    await tick();
    expect(ran).toEqual(["a1"]);
  });
});
