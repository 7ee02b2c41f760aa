import { expect, it } from "vitest";
import { Closers } from "./closers.ts";

it("closes in reverse order of start, each step bounded by what is left of one deadline", async () => {
  const done: string[] = [];
  const timeouts: [string, number][] = [];
  let t = 0;
  const closers = new Closers({
    now: () => t,
    onError: () => {},
    onTimeout: (name, ms) => timeouts.push([name, ms]),
  });
  closers.add("store", () => done.push("store"));
  closers.add("producer", () => new Promise(() => {}), 5000); // a dead broker: never answers
  closers.add("consumer", async () => {
    done.push("consumer");
    t += 20; // it took 20 ms of the budget
  });
  await closers.close(50);
  expect(done).toEqual(["consumer", "store"]);
  // The hung producer got what was left (30 ms), not its 5 s cap; the store still ran, with 0 ms left.
  expect(timeouts).toEqual([["producer", 30]]);
});

it("a failing closer is reported and the rest still run; a second close waits for the first", async () => {
  const errors: string[] = [];
  const done: string[] = [];
  const closers = new Closers({ now: () => 0, onError: (n) => errors.push(n), onTimeout: () => {} });
  closers.add("a", () => done.push("a"));
  closers.add("b", () => {
    throw new Error("boom");
  });
  const first = closers.close(1000);
  const second = closers.close(1000);
  await Promise.all([first, second]);
  expect(errors).toEqual(["b"]);
  expect(done).toEqual(["a"]);
});
