import { execFileSync } from "node:child_process";
import { chownSync, existsSync, readdirSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import {
  type OwnedProcess,
  spawnOwned,
  stopOwned,
  tailOf,
  temporaryDir,
  waitUntilReady,
} from "./owned-process.ts";
import { freePort } from "./worker-process.ts";

// A throwaway PostgreSQL cluster (the Debian binaries) on a free port: fault tests stop and restart it without
// touching the shared server other engineers' tests use.

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth). */
  readonly databaseUrl: string;
  readonly dataDir: string;
  /** The server's stdout/stderr. */
  readonly logFile: string;
  /**
   * "fast" (SIGINT): sessions are terminated (57P01), a checkpoint is written, the server exits.
   * "immediate" (SIGQUIT): every process quits at once, like a crash; the next start replays the WAL.
   */
  stop(how?: "fast" | "immediate"): Promise<void>;
  /** Starts again on the same port and data dir; resolves once it accepts queries. */
  start(): Promise<void>;
  restart(how?: "fast" | "immediate"): Promise<void>;
  /** Stops at once and deletes the cluster. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;
/**
 * Only a test cluster: with fsync off a commit is safe once written to the page cache, so a crash of the server
 * (an immediate stop) loses nothing, only a crash of the machine would. synchronous_commit stays on: with it off, an
 * immediate stop loses commits still in the WAL buffers, and a fault test would blame chatq for them.
 */
const SETTINGS = ["fsync=off", "full_page_writes=off", "shared_buffers=32MB"];

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const home = await mkdtemp(join(tmpdir(), "chatq-private-postgres-"));
  const removeHome = temporaryDir(home);
  const dataDir = join(home, "data");
  const logFile = join(home, "postgres.log");
  // initdb and postgres refuse to run as root; like infra/local/common.sh's as_postgres, root runs them as postgres.
  const asPostgres = process.getuid?.() === 0 ? postgresUser() : undefined;
  if (asPostgres) chownSync(home, asPostgres.uid, asPostgres.gid);
  const initdb = [
    join(bin, "initdb"),
    "-D",
    dataDir,
    "-A",
    "trust",
    "-U",
    "postgres",
    "--no-sync",
    "-E",
    "UTF8",
  ];
  try {
    execFileSync(
      asPostgres ? "runuser" : (initdb[0] ?? ""),
      asPostgres ? ["-u", "postgres", "--", ...initdb] : initdb.slice(1),
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { PATH: process.env.PATH ?? "", LANG: "C.UTF-8" },
      },
    );
  } catch (err) {
    await removeHome();
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`initdb of a private Postgres failed: ${e.stderr?.toString() ?? e.message}`);
  }

  const port = await freePort();
  const databaseUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let proc: OwnedProcess | undefined;
  let closed = false;

  const stop = async (how: "fast" | "immediate" = "fast") => {
    if (proc) await stopOwned(proc, how === "fast" ? "SIGINT" : "SIGQUIT", 20_000);
  };

  const start = async () => {
    if (closed) throw new Error("this private Postgres is closed");
    if (proc?.alive()) return;
    const server = [
      join(bin, "postgres"),
      "-D",
      dataDir,
      "-p",
      String(port),
      "-k",
      home, // its own socket directory: /var/run/postgresql belongs to the shared cluster
      "-c",
      "listen_addresses=127.0.0.1",
      ...SETTINGS.flatMap((s) => ["-c", s]),
    ];
    // setpriv execs (runuser would fork and stand between our signals and the postmaster).
    const [command, ...args] = asPostgres
      ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", ...server]
      : server;
    const started = spawnOwned(command ?? "", args, {
      outputFile: logFile,
      env: { PATH: process.env.PATH ?? "", LANG: "C.UTF-8" },
    });
    proc = started;
    try {
      await waitUntilReady(
        started,
        () => acceptsQueries(databaseUrl),
        START_TIMEOUT_MS,
        (problem) =>
          [
            `private Postgres on port ${port} ${problem}.`,
            `---- ${logFile} (last lines):`,
            tailOf(logFile, 25),
          ].join("\n"),
      );
    } catch (err) {
      await stop("immediate");
      throw err;
    }
  };

  await start().catch(async (err: unknown) => {
    await removeHome();
    throw err;
  });
  return {
    databaseUrl,
    dataDir,
    logFile,
    stop,
    start,
    async restart(how = "fast") {
      await stop(how);
      await start();
    },
    async close() {
      closed = true;
      await stop("immediate");
      await removeHome();
    },
  };
}

/** The newest Debian PostgreSQL install: /usr/lib/postgresql/<version>/bin. */
function postgresBinDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin/postgres")))
        .sort((a, b) => Number(a) - Number(b))
    : [];
  const newest = versions.at(-1);
  if (newest === undefined) {
    throw new Error(
      `no PostgreSQL binaries under ${root}: run \`pnpm stack:up\` (it installs the postgresql package)`,
    );
  }
  return join(root, newest, "bin");
}

function postgresUser(): { uid: number; gid: number } {
  const [uid, gid] = ["-u", "-g"].map((flag) =>
    Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" })),
  );
  if (!Number.isInteger(uid) || !Number.isInteger(gid))
    throw new Error("no postgres user to run the server as");
  return { uid: uid as number, gid: gid as number };
}

async function acceptsQueries(databaseUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 1000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}
