import pg from "pg";
import { toStoreError } from "./store-error.ts";

/** One statement sent to Postgres, for metrics (e.g. a chatq_store_query_seconds histogram keyed by operation). */
export interface QueryEvent {
  operation: string;
  ms: number;
  rows: number;
  ok: boolean;
}

export interface ConnectionOptions {
  databaseUrl: string;
  /** Postgres schema holding chatq's tables; default "public". Tests use a unique one per file. */
  schema?: string;
  poolSize?: number;
  applicationName?: string;
  /** Server-side limit for one statement; default 30 s, so a stuck query surfaces as a retryable error. */
  statementTimeoutMs?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The schema name goes into a connection option and DDL, where it cannot be a bind parameter, so it is limited to
 * plain lowercase identifiers that need no quoting.
 */
export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`schema must match ${SCHEMA_NAME} (got ${JSON.stringify(schema)})`);
  }
  return schema;
}

/** Connection settings shared by the pool and the migrator: search_path is set at connect time, costing no round trip. */
export function clientConfig(opts: ConnectionOptions): pg.ClientConfig {
  const schema = checkSchemaName(opts.schema ?? "public");
  return {
    connectionString: opts.databaseUrl,
    application_name: opts.applicationName ?? "chatq",
    options: `-c search_path=${schema}`,
    statement_timeout: opts.statementTimeoutMs ?? 30_000,
  };
}

/**
 * The only place the store sends SQL: every statement is one pool.query (one round trip), is observed, and any
 * failure leaves as a StoreError naming the operation.
 */
export class Database {
  readonly #pool: pg.Pool;
  readonly #onQuery: ((e: QueryEvent) => void) | undefined;

  constructor(pool: pg.Pool, onQuery?: (e: QueryEvent) => void) {
    this.#pool = pool;
    this.#onQuery = onQuery;
  }

  async query<R extends pg.QueryResultRow>(
    operation: string,
    text: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    const started = performance.now();
    try {
      const result = await this.#pool.query<R>(text, values);
      this.#onQuery?.({ operation, ms: performance.now() - started, rows: result.rowCount ?? 0, ok: true });
      return result.rows;
    } catch (err) {
      this.#onQuery?.({ operation, ms: performance.now() - started, rows: 0, ok: false });
      throw toStoreError(err, operation);
    }
  }

  end(): Promise<void> {
    return this.#pool.end();
  }
}

export function createPool(opts: ConnectionOptions, onError: (err: unknown) => void): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(opts), max: opts.poolSize ?? 10 });
  // An idle client losing its connection emits here; unhandled, it would crash the process.
  pool.on("error", onError);
  return pool;
}
