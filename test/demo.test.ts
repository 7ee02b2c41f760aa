// `pnpm demo`, the main job, run as a person runs it: the CLI process, its worker child, the local stack.
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { scenarioServiceEnv } from "./harness/names.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { freePort } from "./harness/worker-process.ts";

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, "..");

async function demo(env: Record<string, string>): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["services/cli/src/main.ts", "demo", "--exit"], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? "",
        XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "chatq-demo-")),
        ...env,
      },
      timeout: 150_000,
    });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}

describe("pnpm demo", () => {
  it("starts the fake API and a worker, and every sample request is answered", async () => {
    const s = uniqueScenario("demo");
    const db = scenarioDb(s);
    try {
      const { code, out } = await demo({
        ...scenarioServiceEnv(s),
        TOPIC_DLQ: s.topics.deadLetter,
        KAFKA_GROUP_ID: s.groupId,
        METRICS_PORT: String(await freePort()),
        GATEWAY_PORT: String(await freePort()),
      });
      expect(out).toContain("All 5 sample requests answered");
      expect(out).toMatch(/Asked over HTTP: "Echo \(turn 1\): Hello over HTTP/);
      expect(out).toMatch(
        /curl -s http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions -H 'Authorization: Bearer cq_/,
      );
      expect(out).toMatch(/chat page: http:\/\/127\.0\.0\.1:\d+\//);
      expect(out).toMatch(/dead-lettered \(not_json\)/);
      expect(code).toBe(0);
    } finally {
      await db.drop();
    }
  });

  it("says so, with the worker's last words and its log, when the worker dies, instead of waiting", async () => {
    const s = uniqueScenario("demo_dies");
    const { code, out } = await demo({
      KAFKA_BROKERS: s.services.kafkaBrokers.join(","),
      // A database that does not exist: the worker cannot start.
      DATABASE_URL: s.services.databaseUrl.replace(/\/[^/]+$/, "/chatq_no_such_database"),
      REDIS_URL: s.services.redisUrl,
      TOPIC_REQUESTS: s.topics.requests,
      TOPIC_REPLIES: s.topics.replies,
      TOPIC_DLQ: s.topics.deadLetter,
      METRICS_PORT: String(await freePort()),
    });
    expect(out).toContain("the worker exited (code 1)");
    expect(out).toMatch(/worker failed to start.*chatq_no_such_database/);
    expect(out).toMatch(/its whole log: .*demo-worker\.log/);
    expect(code).toBe(1);
  });
});
