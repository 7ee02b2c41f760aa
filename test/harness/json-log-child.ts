import type { ChildProcess } from "node:child_process";

/**
 * Follows a chatq service's stdout as JSON lines (pino) and its stderr as text, and kills it if the test run
 * exits first (a run that dies must not leave services consuming behind it).
 */
export function followJsonLog(proc: ChildProcess, onEntry: (entry: Record<string, unknown>) => void) {
  const killOnExit = () => proc.kill("SIGKILL");
  process.once("exit", killOnExit);
  proc.once("exit", () => process.off("exit", killOnExit));
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  let buffered = "";
  proc.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        entry = { raw: line };
      }
      logs.push(entry);
      onEntry(entry);
    }
  });
  proc.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
  return { logs, exited, stderr: () => stderr };
}
