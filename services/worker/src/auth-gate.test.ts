import { LlmError } from "@chatq/llm";
import { expect, it } from "vitest";
import { AuthGate } from "./auth-gate.ts";

it("closes on an auth error, probes with backoff, and reopens when the key works", async () => {
  const sleeps: number[] = [];
  let keyFixedAfter = 3;
  const changes: boolean[] = [];
  const gate = new AuthGate({
    probe: async () => {
      if (--keyFixedAfter > 0) throw new LlmError("auth", "bad key");
    },
    maxIntervalMs: 3000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    onChange: (open) => changes.push(open),
  });
  expect(gate.isOpen()).toBe(true);
  gate.trip(new LlmError("auth", "bad key"));
  gate.trip(new LlmError("auth", "bad key"));
  expect(gate.isOpen()).toBe(false);
  await gate.whenOpen();
  expect(gate.isOpen()).toBe(true);
  expect(sleeps).toEqual([1000, 2000, 3000]);
  expect(changes).toEqual([false, true]);
});

it("stop releases waiters at once, without waiting for the probe's backoff", async () => {
  const gate = new AuthGate({
    probe: async () => {
      throw new LlmError("auth", "bad key");
    },
    maxIntervalMs: 30_000,
    sleep: () => new Promise(() => {}), // a probe interval that never ends
    onChange: () => {},
  });
  gate.trip(new LlmError("auth", "bad key"));
  const waiting = gate.whenOpen();
  gate.stop();
  await waiting;
  expect(gate.isOpen()).toBe(true);
});
