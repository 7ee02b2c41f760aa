import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { TenantStore } from "@chatq/tenants";
import { followJsonLog } from "./json-log-child.ts";
import { type Scenario, scenarioServiceEnv } from "./names.ts";

const repoRoot = resolve(import.meta.dirname, "../..");

/** The pepper test gateways hash keys with (a test's TenantStore must use the same one). */
export const TEST_PEPPER = "chatq-test-pepper-0123456789";

export interface GatewayProcess {
  proc: ChildProcess;
  url: Promise<string>;
  logs: Record<string, unknown>[];
  /** Everything written to stdout and stderr so far, raw. */
  output(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The env a worker needs to answer this scenario's gateways: their reply topics allowed by prefix. */
export function workerEnvForGateways(s: Scenario): Record<string, string> {
  return { TOPIC_REPLIES_ALLOWED: `${s.topics.replies}.gateway.*` };
}

/** A real gateway process (node services/gateway/src/main.ts) for the scenario; `env` overrides any of it. */
export function spawnGateway(s: Scenario, env: Record<string, string> = {}): GatewayProcess {
  const proc = spawn(process.execPath, [resolve(repoRoot, "services/gateway/src/main.ts")], {
    cwd: repoRoot,
    env: {
      ...scenarioServiceEnv(s),
      GATEWAY_PORT: "0",
      GATEWAY_HOST: "127.0.0.1",
      GATEWAY_KEY_PEPPER: TEST_PEPPER,
      GATEWAY_REPLY_TIMEOUT_MS: "60000",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let announce: (url: string) => void = () => {};
  const started = new Promise<string>((r) => {
    announce = r;
  });
  const { logs, exited, stderr } = followJsonLog(proc, (entry) => {
    if (entry.msg === "gateway started") announce(String(entry.url));
  });
  const output = () => `${logs.map((l) => JSON.stringify(l)).join("\n")}\n${stderr()}`;
  return {
    proc,
    logs,
    output,
    url: Promise.race([
      started,
      exited.then((code) => {
        throw new Error(`gateway exited (${code}) before starting: ${output().slice(-2000)}`);
      }),
    ]),
    exited,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
  };
}

/** Tenants and keys in the scenario's schema, as `chatq tenants|keys` writes them. */
export function scenarioTenants(s: Scenario): TenantStore {
  return new TenantStore({ databaseUrl: s.services.databaseUrl, schema: s.schema, pepper: TEST_PEPPER });
}
