import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";

const repoRoot = resolve(import.meta.dirname, "../..");

export interface FakeProcessOptions {
  latencyMs: number;
  jitterMs: number;
  rpm: number;
  tpm: number;
  sliceMs: number;
}

export interface FakeProcess {
  /** The OpenAI base URL (…/v1). */
  url: string;
  /** Where /_fake/stats and the other admin endpoints are. */
  adminUrl: string;
  process: ChildProcess;
}

/**
 * services/fake-openai in a process of its own, as benchmarks need it: in the benchmark's process it would share
 * one event loop with the load generator and the reply reader, and its latency would be theirs too.
 */
export async function startFakeProcess(o: FakeProcessOptions): Promise<FakeProcess> {
  const child = spawn(
    process.execPath,
    [
      resolve(repoRoot, "services/fake-openai/src/main.ts"),
      ...["--port", "0", "--api-key", "sk-chatq-test"],
      ...["--latency-ms", String(o.latencyMs), "--jitter-ms", String(o.jitterMs)],
      ...["--rpm", String(o.rpm), "--tpm", String(o.tpm), "--limit-slice-ms", String(o.sliceMs)],
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const url = await new Promise<string>((res, rej) => {
    child.stdout?.once("data", (chunk: Buffer) => {
      const line = JSON.parse(chunk.toString("utf8").split("\n")[0] ?? "{}") as { url?: string };
      if (line.url) res(line.url);
      else rej(new Error(`fake did not start: ${chunk.toString("utf8")}`));
    });
    child.once("exit", (code) => rej(new Error(`fake exited ${code}`)));
  });
  return { url, adminUrl: url.replace(/\/v1$/, ""), process: child };
}
