import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import type { Scenario } from "./names.ts";

/** A fresh base64 master key, as `openssl rand -base64 32` gives. */
export const newMasterKey = (): string => randomBytes(32).toString("base64");

/** The worker's (and gateway's) environment for encryption at rest under `key`. */
export const encryptionEnv = (key: string): Record<string, string> => ({
  ENCRYPTION: "on",
  CHATQ_MASTER_KEY: key,
});

/**
 * Rows of every table in the scenario's schema whose text form contains `needle`: a whole row cast to text
 * covers every column (jsonb, bytea as hex, arrays), so nothing is missed by naming columns.
 */
export async function rowsContaining(s: Scenario, needle: string): Promise<{ table: string; row: string }[]> {
  const pool = new pg.Pool({ connectionString: s.services.databaseUrl, max: 1 });
  try {
    const { rows: tables } = await pool.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = $1 and table_type = 'BASE TABLE'",
      [s.schema],
    );
    const found: { table: string; row: string }[] = [];
    for (const { table_name } of tables) {
      const { rows } = await pool.query<{ row: string }>(
        `select t::text as row from ${s.schema}."${table_name}" t where strpos(t::text, $1) > 0`,
        [needle],
      );
      for (const r of rows) found.push({ table: table_name, row: r.row });
    }
    return found;
  } finally {
    await pool.end();
  }
}

/**
 * Files of the Postgres data directory (tables, indexes, WAL) holding `needle`, after a CHECKPOINT has flushed
 * every dirty page. Needs read access to the data directory (the test machine runs as root).
 */
export async function filesContaining(databaseUrl: string, needle: string): Promise<string[]> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  let dir: string;
  try {
    await pool.query("checkpoint");
    const { rows } = await pool.query<{ data_directory: string }>("show data_directory");
    dir = rows[0]?.data_directory ?? "";
  } finally {
    await pool.end();
  }
  try {
    const { stdout } = await promisify(execFile)("grep", ["-rlaF", "--", needle, dir], {
      maxBuffer: 1 << 24,
    });
    return stdout.split("\n").filter((l) => l.length > 0);
  } catch (err) {
    // grep exits 1 when nothing matched.
    if ((err as { code?: number }).code === 1) return [];
    throw err;
  }
}

/** `pnpm chatq <args>` against the scenario's schema, as an operator runs it: exit code, stdout, stderr. */
export async function runChatq(
  s: Scenario,
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ["services/cli/src/main.ts", ...args], {
      cwd: resolve(import.meta.dirname, "../.."),
      env: {
        PATH: process.env.PATH ?? "",
        DATABASE_URL: s.services.databaseUrl,
        DATABASE_SCHEMA: s.schema,
        ...env,
      },
    });
    return { code: 0, out: stdout, err: "" };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: e.stdout ?? "", err: e.stderr ?? "" };
  }
}
