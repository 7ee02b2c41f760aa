import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { followJsonLog } from "./json-log-child.ts";
import { type Scenario, scenarioServiceEnv } from "./names.ts";
import { budgetEnv, TEST_BUDGET } from "./test-budget.ts";

const repoRoot = resolve(import.meta.dirname, "../..");

export interface WorkerProcess {
  proc: ChildProcess;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  metricsUrl: Promise<string>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Everything the process wrote to stderr so far (Node's warnings land here). */
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts a real worker process (node services/worker/src/main.ts), configured for the scenario, under TEST_BUDGET
 * shared through Redis (what the fakes of startTestFake enforce); `env` overrides any of it.
 */
export function spawnWorker(
  s: Scenario,
  openaiBaseUrl: string,
  env: Record<string, string> = {},
): WorkerProcess {
  const proc = spawn(process.execPath, [resolve(repoRoot, "services/worker/src/main.ts")], {
    cwd: repoRoot,
    env: {
      ...scenarioServiceEnv(s),
      OPENAI_API_KEY: "sk-chatq-test",
      OPENAI_BASE_URL: openaiBaseUrl,
      ...budgetEnv(TEST_BUDGET),
      TOPIC_DLQ: s.topics.deadLetter,
      TOPIC_PARTITIONS: "6",
      KAFKA_GROUP_ID: s.groupId,
      KAFKA_SESSION_TIMEOUT_MS: "10000",
      KAFKA_HEARTBEAT_INTERVAL_MS: "1000",
      METRICS_PORT: "0",
      METRICS_HOST: "127.0.0.1",
      LAG_REFRESH_MS: "1000",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let announce: (url: string) => void = () => {};
  const metricsUrl = new Promise<string>((r) => {
    announce = r;
  });
  const {
    logs,
    exited,
    stderr: stderrText,
  } = followJsonLog(proc, (entry) => {
    if (entry.msg === "worker started") announce(`http://127.0.0.1:${entry.metrics_port}`);
  });
  // With a fixed port (benchmarks run quiet, below the info line that announces it), poll for health instead.
  const fixedPort = Number(env.METRICS_PORT ?? 0);
  if (fixedPort > 0) void pollHealth(`http://127.0.0.1:${fixedPort}`, exited).then(announce, () => {});
  void exited.then((code) => {
    if (code !== 0 && code !== null && stderrText())
      process.stderr.write(`[worker ${proc.pid} exited ${code}] ${stderrText()}\n`);
  });
  return {
    proc,
    logs,
    metricsUrl: Promise.race([
      metricsUrl,
      exited.then((code) => {
        throw new Error(`worker exited (${code}) before starting: ${stderrText().slice(-2000)}`);
      }),
    ]),
    exited,
    stderr: stderrText,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
  };
}

export async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

export async function metricValue(
  metricsUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([^ ]+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labelText = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

async function pollHealth(url: string, exited: Promise<unknown>): Promise<string> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  while (!gone) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return url;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("worker exited");
}

/** A port nothing listens on right now (for a worker's metrics in benchmarks). */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
