import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import pg from "pg";
import { type ConnectionOptions, checkSchemaName, clientConfig } from "./postgres-pool.ts";
import { toStoreError } from "./store-error.ts";

/** The repo's infra/migrations, found from this file so it works from any working directory. */
export const DEFAULT_MIGRATIONS_DIR = resolve(import.meta.dirname, "../../../infra/migrations");

export class MigrationError extends Error {
  override readonly name = "MigrationError";
  /** bad_file_name: a file in the directory is not NNNN_name.sql; checksum_mismatch: an applied file was edited. */
  readonly code: "bad_file_name" | "checksum_mismatch";
  readonly retryable = false;

  constructor(code: MigrationError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

export interface MigrationFile {
  /** "0001" */
  version: string;
  /** "0001_init", what migrate() reports as applied */
  name: string;
  file: string;
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Which files are migrations, in the order they apply. Anything not NNNN_name.sql is an error, not silently skipped. */
export function migrationFiles(fileNames: readonly string[]): MigrationFile[] {
  const out: MigrationFile[] = [];
  const versions = new Set<string>();
  for (const file of fileNames) {
    if (file.startsWith(".") || file.toLowerCase() === "readme.md") continue;
    const m = FILE_NAME.exec(file);
    if (!m?.[1]) throw new MigrationError("bad_file_name", `${file}: migrations are named NNNN_name.sql`);
    if (versions.has(m[1]))
      throw new MigrationError("bad_file_name", `${file}: version ${m[1]} appears twice`);
    versions.add(m[1]);
    out.push({ version: m[1], name: file.slice(0, -".sql".length), file });
  }
  return out.sort((a, b) => a.version.localeCompare(b.version));
}

export function checksum(sql: string): string {
  return createHash("sha256").update(sql).digest("hex");
}

/**
 * The migrations still to apply. An applied migration whose file changed is refused: the database would no longer be
 * what the files describe. Fix forward with a new file instead.
 */
export function pendingMigrations<M extends MigrationFile & { checksum: string }>(
  files: readonly M[],
  applied: ReadonlyMap<string, string>,
): M[] {
  for (const f of files) {
    const sum = applied.get(f.version);
    if (sum !== undefined && sum !== f.checksum) {
      throw new MigrationError(
        "checksum_mismatch",
        `${f.file} was changed after it was applied; add a new migration`,
      );
    }
  }
  return files.filter((f) => !applied.has(f.version));
}

/** "chat" as an int4: the first key of the advisory lock, so chatq's lock never meets another app's. */
const LOCK_NAMESPACE = 0x63686174;

/**
 * Applies every pending migration, each in its own transaction, recording it in schema_migrations. Idempotent.
 * A session advisory lock per schema serialises concurrent callers (two workers starting at once): the second
 * waits, then finds nothing left to do.
 */
export async function migrate(
  opts: ConnectionOptions & { migrationsDir?: string },
): Promise<{ applied: string[] }> {
  const schema = checkSchemaName(opts.schema ?? "public");
  const dir = opts.migrationsDir ?? DEFAULT_MIGRATIONS_DIR;
  const files = await Promise.all(
    migrationFiles(await readdir(dir)).map(async (f) => {
      const sql = await readFile(join(dir, f.file), "utf8");
      return { ...f, sql, checksum: checksum(sql) };
    }),
  );

  // Migrations may run longer than the pool's statement timeout.
  const client = new pg.Client({ ...clientConfig(opts), statement_timeout: 0 });
  let step = "connect";
  try {
    await client.connect();
    step = "lock";
    await client.query("select pg_advisory_lock($1, hashtext($2))", [LOCK_NAMESPACE, schema]);
    step = "prepare";
    // Under the lock: CREATE SCHEMA IF NOT EXISTS itself races when two sessions run it at once.
    await client.query(`create schema if not exists ${schema}`);
    // Migration files name no schema; they land in the one on the search_path, set again now that it exists.
    await client.query("select set_config('search_path', $1, false)", [schema]);
    await client.query(`
      create table if not exists ${schema}.schema_migrations (
        version     text primary key,
        name        text not null,
        checksum    text not null,
        applied_at  timestamptz not null default now()
      )`);
    const { rows } = await client.query<{ version: string; checksum: string }>(
      `select version, checksum from ${schema}.schema_migrations`,
    );
    const todo = pendingMigrations(files, new Map(rows.map((r) => [r.version, r.checksum])));
    const applied: string[] = [];
    for (const m of todo) {
      step = m.name;
      await client.query("begin");
      try {
        await client.query(m.sql);
        await client.query(
          `insert into ${schema}.schema_migrations (version, name, checksum) values ($1, $2, $3)`,
          [m.version, m.name, m.checksum],
        );
        await client.query("commit");
      } catch (err) {
        await client.query("rollback").catch(() => {});
        throw err;
      }
      applied.push(m.name);
    }
    return { applied };
  } catch (err) {
    if (err instanceof MigrationError) throw err;
    throw toStoreError(err, `migrate ${step}`);
  } finally {
    // Ending the session releases the advisory lock too.
    await client.end().catch(() => {});
  }
}
