import pg from "pg";
import type { Scenario } from "./names.ts";

/** A pool on the scenario's own schema, to check what the worker stored. */
export function scenarioDb(s: Scenario) {
  const pool = new pg.Pool({
    connectionString: s.services.databaseUrl,
    max: 2,
    options: `-c search_path=${s.schema}`,
  });
  // An idle connection lost while a fault test stops Postgres: the next query reconnects.
  pool.on("error", () => {});
  return {
    query: async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> =>
      (await pool.query<T>(sql, params)).rows,
    async drop() {
      await pool.query(`drop schema if exists ${s.schema} cascade`);
      await pool.end();
    },
  };
}
