import { describe, expect, it } from "vitest";
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from "./circuit-breaker.ts";
import { OutageDetector } from "./outage-detector.ts";

/** A breaker whose open periods end when the test says so. */
function harness(extra: Partial<CircuitBreakerOptions> = {}) {
  const sleeps: { ms: number; wake: () => void }[] = [];
  const changes: CircuitState[] = [];
  const detector = new OutageDetector({
    consecutiveFailures: 3,
    windowMs: 1e9,
    minCallsInWindow: 1e9,
    failureRatio: 1,
  });
  let t = 0;
  const breaker = new CircuitBreaker({
    detector,
    initialOpenMs: 1000,
    maxOpenMs: 8000,
    now: () => t++,
    random: () => 0.5, // no jitter: 0.8 + 0.4 * 0.5 = 1
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        sleeps.push({ ms, wake: resolve });
        signal.addEventListener("abort", () => resolve(), { once: true });
      }),
    onChange: (state) => changes.push(state),
    ...extra,
  });
  const endSleep = async () => {
    await flush();
    const s = sleeps.shift();
    if (!s) throw new Error("nothing is sleeping");
    s.wake();
    await flush();
    return s.ms;
  };
  return { breaker, changes, sleeps, endSleep };
}
const flush = () => new Promise((r) => setImmediate(r));
const signal = () => new AbortController().signal;

describe("CircuitBreaker", () => {
  it("lets calls go while closed and calls failures below the threshold the request's own", async () => {
    const { breaker } = harness();
    const a = await breaker.admit(signal());
    expect(a.trial).toBe(false);
    expect(breaker.failed(a, "503")).toEqual({ ownFailure: true });
    expect(breaker.failed(a, "503")).toEqual({ ownFailure: true });
    expect(breaker.state()).toBe("closed");
  });

  it("the failure that opens it, and those of calls already out, are not the requests'", async () => {
    const { breaker, changes } = harness();
    const out = await Promise.all([1, 2, 3, 4].map(() => breaker.admit(signal())));
    breaker.failed(out[0] as never, "503");
    breaker.failed(out[1] as never, "503");
    expect(breaker.failed(out[2] as never, "503")).toEqual({ ownFailure: false });
    expect(breaker.state()).toBe("open");
    expect(breaker.failed(out[3] as never, "503")).toEqual({ ownFailure: false });
    expect(changes).toEqual(["open"]);
  });

  it("holds callers while open, sends one trial when half-open, and releases everyone when it succeeds", async () => {
    const { breaker, changes, endSleep } = harness();
    breaker.trip("401");
    const released: boolean[] = [];
    const waiting = [1, 2, 3].map(() =>
      breaker.admit(signal()).then((a) => {
        released.push(a.trial);
        return a;
      }),
    );
    await flush();
    expect(released).toEqual([]);
    expect(await endSleep()).toBe(1000);
    expect(released).toEqual([true]); // the first waiter is the trial, the others still wait
    expect(breaker.state()).toBe("half_open");
    const trial = await waiting[0];
    breaker.succeeded(trial as never);
    await Promise.all(waiting);
    expect(released).toEqual([true, false, false]);
    expect(changes).toEqual(["open", "half_open", "closed"]);
  });

  it("a failed trial opens it again for twice as long, never longer than the maximum, and a retry-after is a floor", async () => {
    const { breaker, endSleep } = harness();
    breaker.trip("503");
    const waits: number[] = [await endSleep()];
    for (let i = 0; i < 4; i++) {
      const trial = await breaker.admit(signal());
      expect(trial.trial).toBe(true);
      breaker.failed(trial, "503");
      waits.push(await endSleep());
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000]);
    const trial = await breaker.admit(signal());
    breaker.failed(trial, "503", 20_000);
    expect(await endSleep()).toBe(20_000);
  });

  it("a trial that proves nothing (the request's own error, a lost partition) passes to the next waiter", async () => {
    const { breaker, endSleep } = harness();
    breaker.trip("503");
    const first = breaker.admit(signal());
    const second = breaker.admit(signal());
    await endSleep();
    const a = await first;
    expect(a.trial).toBe(true);
    breaker.abandoned(a);
    expect((await second).trial).toBe(true);
  });

  it("a waiter whose signal aborts leaves at once; stop rejects all the others", async () => {
    const { breaker } = harness();
    breaker.trip("401");
    const ac = new AbortController();
    const leaving = breaker.admit(ac.signal);
    const staying = breaker.admit(signal());
    ac.abort(new Error("partition revoked"));
    await expect(leaving).rejects.toThrow("partition revoked");
    expect(breaker.waiting()).toBe(1);
    breaker.stop(new Error("stopping"));
    await expect(staying).rejects.toThrow("stopping");
  });

  it("runs the probe before the trial, again and again with backoff, until it passes", async () => {
    let failures = 2;
    const { breaker, endSleep } = harness({
      probe: async () => {
        if (failures-- > 0) throw new Error("401 still");
      },
    });
    breaker.trip("401");
    const waiter = breaker.admit(signal());
    expect(await endSleep()).toBe(1000);
    expect(await endSleep()).toBe(2000);
    expect(await endSleep()).toBe(4000);
    expect((await waiter).trial).toBe(true);
  });

  it("a call that went out while closed and succeeds after it opened closes it", async () => {
    const { breaker } = harness();
    const a = await breaker.admit(signal());
    breaker.trip("503");
    const waiter = breaker.admit(signal());
    breaker.succeeded(a);
    expect((await waiter).trial).toBe(false);
    expect(breaker.state()).toBe("closed");
  });

  it("after closing, the outage's failures are forgotten: one more failure is the request's own again", async () => {
    const { breaker } = harness();
    const a = await breaker.admit(signal());
    for (let i = 0; i < 3; i++) breaker.failed(a, "503");
    expect(breaker.state()).toBe("open");
    breaker.succeeded(a);
    expect(breaker.failed(await breaker.admit(signal()), "503")).toEqual({ ownFailure: true });
  });
});
