import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { withLocalMasterKey } from "./local-master-key.ts";

const repoRoot = resolve(import.meta.dirname, "../../..");

/** The services an operator can run on their own, without Docker or the demo. */
export const SERVICES = {
  worker: "services/worker/src/main.ts",
  fake: "services/fake-openai/src/main.ts",
  gateway: "services/gateway/src/main.ts",
} as const;

/**
 * Runs one service in the foreground (its JSON log on stdout), as its own process so its configuration and
 * signals are exactly those of production: SIGINT/SIGTERM are passed on, and its exit code is ours.
 */
export function runService(
  service: keyof typeof SERVICES,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const child = spawn(process.execPath, [resolve(repoRoot, SERVICES[service]), ...args], {
    cwd: repoRoot,
    env,
    stdio: "inherit",
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.on("SIGINT", forward("SIGINT"));
  process.on("SIGTERM", forward("SIGTERM"));
  return new Promise((r) => child.on("exit", (code, signal) => r(code ?? (signal === "SIGKILL" ? 137 : 1))));
}

/**
 * A worker started by hand on a developer's machine talks to the local stack (`pnpm stack:up`) unless told
 * otherwise; production sets every variable explicitly.
 */
export function localWorkerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return withLocalMasterKey({
    KAFKA_BROKERS: "127.0.0.1:9092",
    DATABASE_URL: "postgres://postgres@127.0.0.1:5432/chatq",
    REDIS_URL: "redis://127.0.0.1:6379",
    ...env,
  });
}
