import { mkdtemp } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type OwnedProcess,
  spawnOwned,
  stopOwned,
  tailOf,
  temporaryDir,
  waitUntilReady,
} from "./owned-process.ts";
import { freePort } from "./worker-process.ts";

// A redis-server of the test's own on a free port, no persistence: fault tests stop and restart it (empty, as a
// restarted cache without persistence is) without touching the shared Redis other engineers' tests use.

export interface PrivateRedis {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly logFile: string;
  /** "term": SIGTERM, clients are disconnected and it exits; "kill": SIGKILL. */
  stop(how?: "term" | "kill"): Promise<void>;
  /** Starts again, empty, on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  restart(how?: "term" | "kill"): Promise<void>;
  close(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const home = await mkdtemp(join(tmpdir(), "chatq-private-redis-"));
  const removeHome = temporaryDir(home);
  const logFile = join(home, "redis.log");
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let proc: OwnedProcess | undefined;
  let closed = false;

  const stop = async (how: "term" | "kill" = "term") => {
    if (proc) await stopOwned(proc, how === "term" ? "SIGTERM" : "SIGKILL", 10_000);
  };
  const start = async () => {
    if (closed) throw new Error("this private Redis is closed");
    if (proc?.alive()) return;
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
    const started = spawnOwned("redis-server", [...args, "--dir", home, "--daemonize", "no"], {
      outputFile: logFile,
    });
    proc = started;
    try {
      await waitUntilReady(
        started,
        () => answersPing(port),
        10_000,
        (problem) =>
          [
            `private Redis on port ${port} ${problem}.`,
            `---- ${logFile} (last lines):`,
            tailOf(logFile, 20),
          ].join("\n"),
      );
    } catch (err) {
      await stop("kill");
      throw err;
    }
  };

  await start().catch(async (err: unknown) => {
    await removeHome();
    throw err;
  });
  return {
    url,
    logFile,
    stop,
    start,
    async restart(how = "term") {
      await stop(how);
      await start();
    },
    async close() {
      closed = true;
      await stop("kill");
      await removeHome();
    },
  };
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) finish(reply.startsWith("+PONG"));
    });
  });
}
