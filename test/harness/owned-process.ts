import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";

// A server process (broker, database, cache) that a test starts and must never outlive the test run.

export interface OwnedProcess {
  /** The server's own pid (the launcher execs it), so signals reach it directly. */
  readonly pid: number;
  /** Resolves when it has exited, with how. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** Sends a signal (no-op once exited). */
  signal(sig: NodeJS.Signals): void;
}

/**
 * The launcher starts a watcher that holds a pipe from this process and then execs the server in its place. If
 * this process dies in any way (SIGKILL included, when no exit handler runs), the pipe closes and the watcher
 * SIGKILLs the server; once the server is gone, the watcher leaves within a second, so it never signals a
 * recycled pid. Output goes to `outputFile` (appended), so a post-mortem outlives the process.
 */
const LAUNCHER = `
srv=$$
exec 3<&0 # a background job's stdin is /dev/null: the watcher reads the pipe through fd 3
( while kill -0 "$srv" 2>/dev/null; do
    read -r -t 1 _ <&3; rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -le 128 ]; then kill -KILL "$srv" 2>/dev/null; exit 0; fi
  done ) &
exec "$@" </dev/null 3<&-
`;

export function spawnOwned(
  command: string,
  args: readonly string[],
  opts: { outputFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): OwnedProcess {
  const out = openSync(opts.outputFile, "a");
  let child: ChildProcess;
  try {
    child = spawn("bash", ["-c", LAUNCHER, "owned-process", command, ...args], {
      stdio: ["pipe", out, out],
      env: opts.env ?? process.env,
      ...(opts.cwd !== undefined && { cwd: opts.cwd }),
    });
  } finally {
    closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command}`);
  // Belt and braces for an orderly exit of this process: no second to wait for the watcher.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      done = true;
      process.off("exit", killOnExit);
      child.stdin?.destroy();
      resolve({ code, signal });
    }),
  );
  // An EPIPE on the watcher's pipe after it left must not become an unhandled error.
  child.stdin?.on("error", () => {});
  return {
    pid,
    exited,
    alive: () => !done,
    signal(sig) {
      if (!done) child.kill(sig);
    },
  };
}

/** The last lines of a log file, for error messages ("" when it does not exist yet). */
export function tailOf(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .slice(-lines - 1)
      .join("\n");
  } catch {
    return "";
  }
}

/** Waits for `ready()` to be true, failing early with `why()` when the process exits first or time runs out. */
export async function waitUntilReady(
  proc: OwnedProcess,
  ready: () => Promise<boolean>,
  timeoutMs: number,
  why: (problem: string) => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.alive()) {
      const { code, signal } = await proc.exited;
      throw new Error(why(`exited during start-up (code ${code}, signal ${signal})`));
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(why(`not ready after ${timeoutMs} ms (pid ${proc.pid} alive)`));
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Signals the process and waits for it to exit; after `graceMs` a stop that hangs becomes a SIGKILL. */
export async function stopOwned(proc: OwnedProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!proc.alive()) return;
  proc.signal(signal);
  const killer = setTimeout(() => proc.signal("SIGKILL"), graceMs);
  await proc.exited;
  clearTimeout(killer);
}

/**
 * Deletes `dir` when this process exits, if nothing deleted it before (a test that failed before its close()).
 * Returns the deletion to call now instead. A SIGKILLed process runs no handler: then the dir stays in the OS temp.
 */
export function temporaryDir(dir: string): () => Promise<void> {
  const onExit = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", onExit);
  return async () => {
    process.off("exit", onExit);
    await rm(dir, { recursive: true, force: true });
  };
}
