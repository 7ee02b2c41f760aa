import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KeyedScheduler } from "./keyed-scheduler.ts";

const tick = () => new Promise<void>((r) => setImmediate(r));

/** A scheduler whose jobs finish when the test says so. */
function gated(maxRunning: number) {
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
    maxRunning,
  );
  const finish = async (item: string) => {
    gates.get(item)?.();
    await tick();
  };
  return { s, log, finish };
}

describe("KeyedScheduler", () => {
  it("runs one key in order and different keys at the same time", async () => {
    const { s, log, finish } = gated(10);
    s.push("a", "a1");
    s.push("a", "a2");
    s.push("b", "b1");
    await tick();
    expect(log).toEqual(["start a1", "start b1"]);
    expect(s.size()).toBe(3);
    await finish("a1");
    expect(log).toContain("start a2");
    await finish("a2");
    await finish("b1");
    expect(s.size()).toBe(0);
  });

  it("never runs more than maxRunning at once; waiting keys go in arrival order", async () => {
    const { s, log, finish } = gated(2);
    for (const k of ["a", "b", "c", "d"]) s.push(k, `${k}1`);
    await tick();
    expect(s.running()).toBe(2);
    expect(log).toEqual(["start a1", "start b1"]);
    await finish("b1");
    expect(log.at(-1)).toBe("start c1");
    expect(s.running()).toBe(2);
  });

  it("per key, items complete in push order and the run cap holds, whatever the durations (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d", "e"), fc.integer({ min: 0, max: 3 })), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 1, max: 4 }),
        async (items, maxRunning) => {
          const done: { key: string; seq: number }[] = [];
          let running = 0;
          let peak = 0;
          const s = new KeyedScheduler<{ key: string; seq: number; ticks: number }>(async (it) => {
            running++;
            peak = Math.max(peak, running);
            for (let i = 0; i < it.ticks; i++) await tick();
            done.push({ key: it.key, seq: it.seq });
            running--;
          }, maxRunning);
          for (const [seq, [key, ticks]] of items.entries()) s.push(key, { key, seq, ticks });
          while (s.size() > 0) await tick();
          for (const key of ["a", "b", "c", "d", "e"]) {
            const seqs = done.filter((d) => d.key === key).map((d) => d.seq);
            expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
          }
          expect(done).toHaveLength(items.length);
          expect(peak).toBeLessThanOrEqual(maxRunning);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("KeyedScheduler.stop and dropQueued", () => {
  it("lets running work finish and drops what waits", async () => {
    const { s, log, finish } = gated(1);
    s.push("a", "a1");
    s.push("a", "a2");
    s.push("b", "b1");
    await tick();
    expect(s.stop()).toEqual(["a2", "b1"]);
    expect(s.size()).toBe(1);
    await finish("a1");
    s.push("c", "c1");
    await tick();
    expect(log).toEqual(["start a1", "end a1"]);
    expect(s.size()).toBe(0);
  });

  it("drops only matching waiting items, and a refilled key still runs one item at a time", async () => {
    const { s, log, finish } = gated(1);
    s.push("a", "a1");
    s.push("b", "b1");
    s.push("b", "b2");
    await tick();
    expect(s.dropQueued((item) => item.startsWith("b"))).toEqual(["b1", "b2"]);
    s.push("b", "b3");
    s.push("b", "b4");
    await finish("a1");
    expect(log.at(-1)).toBe("start b3");
    await finish("b3");
    expect(log.at(-1)).toBe("start b4");
    expect(s.running()).toBe(1);
  });
});

describe("KeyedScheduler.keys", () => {
  it("counts conversations with work, not the turns queued behind them", async () => {
    const gates: (() => void)[] = [];
    const s = new KeyedScheduler<number>(() => new Promise<void>((r) => gates.push(r)), 10);
    s.push("a", 1);
    s.push("a", 2);
    s.push("b", 3);
    expect(s.size()).toBe(3);
    expect(s.keys()).toBe(2);
    for (const open of gates.splice(0)) open();
    await new Promise((r) => setImmediate(r));
    expect(s.keys()).toBe(1);
  });
});
