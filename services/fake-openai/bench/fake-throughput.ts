// How many chat completions per second the fake answers: N concurrent keep-alive clients for a few seconds.
//
//   pnpm --filter @chatq/fake-openai bench                       # fake in a child process (its own core)
//   pnpm --filter @chatq/fake-openai bench -- --in-process       # fake and load in one process (one core)
//   pnpm --filter @chatq/fake-openai bench -- --url http://127.0.0.1:8089/v1 --concurrency 128 --seconds 10
//
// Prints a human line and a JSON line. Timing figures only; it never fails on them.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { Agent, request } from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startFakeOpenAI } from "../src/index.ts";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    "in-process": { type: "boolean", default: false },
    concurrency: { type: "string", default: "64" },
    seconds: { type: "string", default: "5" },
    "warmup-seconds": { type: "string", default: "1" },
  },
});
const concurrency = Number(values.concurrency);
const seconds = Number(values.seconds);
const warmupSeconds = Number(values["warmup-seconds"]);

async function fakeUrl(): Promise<{ url: string; stop: () => Promise<void>; mode: string }> {
  if (values.url) return { url: values.url, stop: async () => {}, mode: "external" };
  if (values["in-process"]) {
    const fake = await startFakeOpenAI({ port: 0 });
    return { url: fake.url, stop: () => fake.close(), mode: "in-process" };
  }
  const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
  const child = spawn(process.execPath, [main, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
  const { url } = JSON.parse(line) as { url: string };
  return {
    url,
    mode: "child-process",
    stop: async () => {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    },
  };
}

// A short conversation (~60 prompt tokens), varied per request so nothing is cached by accident.
function body(i: number): string {
  return JSON.stringify({
    model: "gpt-4o-mini",
    max_tokens: 64,
    messages: [
      { role: "system", content: "You are a concise assistant for a queue-driven chat service." },
      { role: "user", content: "Hello, can you help me plan a short trip?" },
      { role: "assistant", content: "Of course. Where would you like to go, and for how long?" },
      { role: "user", content: `Request ${i}: three days in Lisbon, mostly food and walking.` },
    ],
  });
}

const { url, stop, mode } = await fakeUrl();
const target = new URL(`${url}/chat/completions`);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

function post(payload: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: "POST",
        agent,
        headers: {
          authorization: "Bearer sk-bench",
          "content-type": "application/json",
          "content-length": Buffer.byteLength(payload),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const latencies: number[] = [];
const statuses = new Map<number, number>();
let measuring = false;
let running = true;
let sent = 0;

async function worker(): Promise<void> {
  while (running) {
    const payload = body(sent++);
    const t0 = performance.now();
    const status = await post(payload);
    if (!measuring) continue;
    latencies.push(performance.now() - t0);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
}

const workers = Array.from({ length: concurrency }, () => worker());
await new Promise((r) => setTimeout(r, warmupSeconds * 1000));
measuring = true;
const start = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
measuring = false;
const elapsed = (performance.now() - start) / 1000;
running = false;
await Promise.all(workers);
agent.destroy();
await stop();

latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
const result = {
  bench: "fake-throughput",
  mode,
  concurrency,
  seconds: Number(elapsed.toFixed(2)),
  requests: latencies.length,
  req_per_s: Math.round(latencies.length / elapsed),
  p50_ms: Number(pct(50).toFixed(2)),
  p99_ms: Number(pct(99).toFixed(2)),
  statuses: Object.fromEntries(statuses),
};
console.log(
  `fake-openai (${mode}): ${result.req_per_s} req/s over ${result.seconds}s, concurrency ${concurrency}, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms`,
);
console.log(JSON.stringify(result));
