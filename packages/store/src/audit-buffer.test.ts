import { describe, expect, it } from "vitest";
import { AuditBuffer, type AuditEvent, type AuditRow, type ScheduleFn } from "./audit-buffer.ts";
import { StoreError } from "./store-error.ts";

/** A hand-driven clock: timers fire only when the test says so. */
function manualTimers() {
  const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const schedule: ScheduleFn = (fn, ms) => {
    const t = { fn, ms, cancelled: false };
    timers.push(t);
    return () => {
      t.cancelled = true;
    };
  };
  const armed = () => timers.filter((t) => !t.cancelled);
  const fire = async () => {
    for (const t of armed()) {
      t.cancelled = true;
      t.fn();
    }
    await new Promise((r) => setImmediate(r));
  };
  return { schedule, armed, fire };
}

const event = (n: number): AuditEvent => ({
  event: "attempt_started",
  requestId: `r${n}`,
  attempt: 1,
  at: new Date(0),
});

function setup(
  write: (rows: AuditRow[]) => Promise<void>,
  opts: { maxRows?: number; maxBuffered?: number } = {},
) {
  const timers = manualTimers();
  const errors: { err: StoreError; dropped: number }[] = [];
  const buffer = new AuditBuffer({
    write,
    onError: (err, ctx) => errors.push({ err, dropped: ctx.dropped }),
    schedule: timers.schedule,
    flushIntervalMs: 50,
    ...opts,
  });
  return { buffer, timers, errors };
}

const connectionLost = () => new Error("Connection terminated unexpectedly");
const badRow = () => Object.assign(new Error("invalid input"), { code: "22P02" });

describe("AuditBuffer", () => {
  it("writes nothing until the interval passes, then everything in one write", async () => {
    const writes: AuditRow[][] = [];
    const { buffer, timers } = setup(async (rows) => void writes.push(rows));
    buffer.append(event(1));
    buffer.append(event(2));
    expect(writes).toEqual([]);
    expect(timers.armed().map((t) => t.ms)).toEqual([50]);
    await timers.fire();
    expect(writes.map((w) => w.map((r) => r.request_id))).toEqual([["r1", "r2"]]);
    expect(buffer.pending).toBe(0);
  });

  it("writes as soon as maxRows rows wait, at most maxRows per statement", async () => {
    const writes: AuditRow[][] = [];
    const { buffer } = setup(async (rows) => void writes.push(rows), { maxRows: 3 });
    for (let i = 1; i <= 7; i++) buffer.append(event(i));
    await buffer.flush();
    expect(writes.map((w) => w.length)).toEqual([3, 3, 1]);
    expect(writes.flat().map((r) => r.request_id)).toEqual(["r1", "r2", "r3", "r4", "r5", "r6", "r7"]);
  });

  it("keeps rows and their order across a lost connection, and reports it", async () => {
    const writes: AuditRow[][] = [];
    let down = true;
    const { buffer, timers, errors } = setup(async (rows) => {
      if (down) throw connectionLost();
      writes.push(rows);
    });
    buffer.append(event(1));
    await timers.fire();
    expect(errors.map((e) => [e.err.code, e.dropped])).toEqual([["connection", 0]]);
    buffer.append(event(2));
    // Retry comes back off: the next timer waits longer than the interval.
    expect(timers.armed()[0]?.ms).toBeGreaterThan(50);
    down = false;
    await timers.fire();
    expect(writes.flat().map((r) => r.request_id)).toEqual(["r1", "r2"]);
  });

  it("drops rows Postgres refuses as invalid instead of retrying them forever", async () => {
    const { buffer, errors } = setup(async () => {
      throw badRow();
    });
    buffer.append(event(1));
    await expect(buffer.flush()).rejects.toMatchObject({ code: "query", retryable: false });
    expect(errors.map((e) => e.dropped)).toEqual([1]);
    expect(buffer.pending).toBe(0);
  });

  it("bounds memory while Postgres is away: the oldest rows go first", async () => {
    const { buffer, errors } = setup(
      async () => {
        throw connectionLost();
      },
      { maxBuffered: 3, maxRows: 100 },
    );
    for (let i = 1; i <= 5; i++) buffer.append(event(i));
    expect(buffer.pending).toBe(3);
    expect(errors.reduce((n, e) => n + e.dropped, 0)).toBe(2);
  });

  it("close() flushes, then ignores appends", async () => {
    const writes: AuditRow[][] = [];
    const { buffer, timers } = setup(async (rows) => void writes.push(rows));
    buffer.append(event(1));
    await buffer.close();
    buffer.append(event(2));
    expect(writes.flat().map((r) => r.request_id)).toEqual(["r1"]);
    expect(timers.armed()).toEqual([]);
  });

  it("flush() with nothing buffered writes nothing", async () => {
    const writes: AuditRow[][] = [];
    const { buffer } = setup(async (rows) => void writes.push(rows));
    await buffer.flush();
    expect(writes).toEqual([]);
  });

  it("StoreError passes through with its own operation", async () => {
    const { buffer } = setup(async () => {
      throw new StoreError("x", { code: "connection", retryable: true, operation: "audit.flush" });
    });
    buffer.append(event(1));
    await expect(buffer.flush()).rejects.toBeInstanceOf(StoreError);
    expect(buffer.pending).toBe(1);
  });
});
