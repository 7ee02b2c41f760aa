import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { type SqlPort, SqlVectorStore } from "./vector-sql.ts";
import { RetrievalError, type VectorStore } from "./vector-store.ts";

export interface VectorStoreOptions {
  /**
   * `pgvector`: the `vector` extension of the Postgres at `databaseUrl` (an error if it cannot be created);
   * `pglite`: embedded Postgres + pgvector in WASM, in `dataDir` (or memory); `auto`: pgvector when
   * `CREATE EXTENSION vector` works there, else pglite.
   */
  backend: "auto" | "pgvector" | "pglite";
  dimensions: number;
  databaseUrl?: string | undefined;
  /** Postgres schema for the table (tests use their own). */
  schema?: string | undefined;
  /** Where the embedded store keeps its files; undefined = in memory (gone at close). */
  dataDir?: string | undefined;
  /** Told which backend was chosen and why, when `auto` had to fall back. */
  onFallback?: (reason: string) => void;
}

/** Opens the configured backend and prepares its schema. */
export async function openVectorStore(opts: VectorStoreOptions): Promise<VectorStore> {
  if (opts.backend !== "pglite") {
    try {
      return await openPgvector(opts);
    } catch (err) {
      if (
        opts.backend === "pgvector" ||
        !(err instanceof RetrievalError) ||
        err.code !== "extension_unavailable"
      )
        throw err;
      opts.onFallback?.(err.message);
    }
  }
  return openPglite(opts);
}

async function openPgvector(opts: VectorStoreOptions): Promise<VectorStore> {
  if (opts.databaseUrl === undefined) {
    throw new RetrievalError("extension_unavailable", "no database URL for the pgvector backend");
  }
  const pool = new pg.Pool({
    connectionString: opts.databaseUrl,
    max: 4,
    ...(opts.schema !== undefined && { options: `-c search_path=${opts.schema},public` }),
  });
  try {
    const client = await pool.connect();
    try {
      if (opts.schema !== undefined) {
        if (!/^[a-z_][a-z0-9_]{0,62}$/.test(opts.schema)) {
          throw new RetrievalError(
            "bad_input",
            `schema ${JSON.stringify(opts.schema)} is not a plain lower-case name`,
          );
        }
        await client.query(`create schema if not exists ${opts.schema}`);
      }
      // In public, so every schema of the database (tests use one each) sees the type.
      await client.query("create extension if not exists vector with schema public");
    } catch (err) {
      if (err instanceof RetrievalError) throw err;
      throw new RetrievalError(
        "extension_unavailable",
        `CREATE EXTENSION vector failed on ${new URL(opts.databaseUrl).host}: ${(err as Error).message}`,
        { cause: err },
      );
    } finally {
      client.release();
    }
    const store = new SqlVectorStore(poolPort(pool), "pgvector", opts.dimensions);
    await store.prepare();
    return store;
  } catch (err) {
    await pool.end();
    throw err;
  }
}

function poolPort(pool: pg.Pool): SqlPort {
  return {
    query: async <R>(text: string, params?: unknown[]) => ({
      rows: (await pool.query(text, params)).rows as R[],
    }),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query("begin");
        const out = await fn({
          query: async <R>(text: string, params?: unknown[]) => ({
            rows: (await client.query(text, params)).rows as R[],
          }),
        });
        await client.query("commit");
        return out;
      } catch (err) {
        await client.query("rollback").catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

async function openPglite(opts: VectorStoreOptions): Promise<VectorStore> {
  // Imported here, not at the top: the WASM Postgres costs hundreds of MB and loads only when this backend is used.
  const [{ PGlite }, { vector }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("@electric-sql/pglite-pgvector"),
  ]);
  const unlock = opts.dataDir === undefined ? async () => {} : await lockDataDir(opts.dataDir);
  try {
    const db = await PGlite.create({
      ...(opts.dataDir !== undefined && { dataDir: opts.dataDir }),
      extensions: { vector },
    });
    const port: SqlPort = {
      query: async <R>(text: string, params?: unknown[]) => {
        // PGlite's query() takes one statement; the schema is several, which exec() runs.
        if (params === undefined && text.includes(";")) {
          await db.exec(text);
          return { rows: [] };
        }
        return { rows: (await db.query<R>(text, params)).rows };
      },
      transaction: (fn) =>
        db.transaction(async (tx) =>
          fn({
            query: async <R>(text: string, params?: unknown[]) => {
              if (params === undefined && text.includes(";")) {
                await tx.exec(text);
                return { rows: [] };
              }
              return { rows: (await tx.query<R>(text, params)).rows };
            },
          }),
        ),
      close: async () => {
        await db.close();
        await unlock();
      },
    };
    const store = new SqlVectorStore(port, "pglite", opts.dimensions);
    await store.prepare();
    return store;
  } catch (err) {
    await unlock();
    throw err;
  }
}

/**
 * The embedded store is one process's files: a second process opening them would corrupt them. A lock file with
 * the owner's pid says who has it; a lock left by a process that is gone is taken over.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true });
  const lockPath = join(dataDir, "chatq.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lockPath, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number((await readFile(lockPath, "utf8").catch(() => "")).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new RetrievalError(
          "store_busy",
          `the embedded vector store in ${dataDir} is open in process ${owner}; stop it first, or use the pgvector backend to share a store`,
        );
      }
      await rm(lockPath, { force: true });
    }
  }
  throw new RetrievalError("store_busy", `could not lock ${lockPath}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
