import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";

const repoRoot = resolve(import.meta.dirname, "../..");

export interface FakeProcessOptions {
  /** Default sk-chatq-test, the key the worker harness uses. */
  apiKey?: string;
  latencyMs: number;
  jitterMs: number;
  /** 0 = unlimited. */
  rpm: number;
  tpm: number;
  sliceMs: number;
}

/** The fake OpenAI API in a process of its own, so its CPU is not the benchmark's. */
export interface FakeProcess {
  url: string;
  adminUrl: string;
  process: ChildProcess;
  /** POST /_fake/config: change behaviour while workers run (a key rotation, an outage). */
  configure(patch: Record<string, unknown>): Promise<void>;
}

export async function startFakeProcess(p: FakeProcessOptions): Promise<FakeProcess> {
  const child = spawn(
    process.execPath,
    [
      resolve(repoRoot, "services/fake-openai/src/main.ts"),
      "--port",
      "0",
      "--api-key",
      p.apiKey ?? "sk-chatq-test",
      "--latency-ms",
      String(p.latencyMs),
      "--jitter-ms",
      String(p.jitterMs),
      "--rpm",
      String(p.rpm),
      "--tpm",
      String(p.tpm),
      "--limit-slice-ms",
      String(p.sliceMs),
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
  const adminUrl = url.replace(/\/v1$/, "");
  return {
    url,
    adminUrl,
    process: child,
    async configure(patch) {
      const res = await fetch(`${adminUrl}/_fake/config`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(patch),
      });
      if (!res.ok) throw new Error(`the fake refused ${JSON.stringify(patch)}: ${await res.text()}`);
    },
  };
}
