import pg from "pg";

/**
 * A small Postgres pool of the gateway's own tables (gateway_instances, webhooks) on the configured schema. An idle
 * connection lost (Postgres restarting) goes to `onError` instead of crashing the process.
 */
export function gatewayPool(opts: {
  databaseUrl: string;
  schema: string | undefined;
  max: number;
  name: string;
  onError: (err: unknown) => void;
}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.databaseUrl,
    max: opts.max,
    application_name: `chatq-gateway-${opts.name}`,
    options: `-c search_path=${opts.schema ?? "public"}`,
  });
  pool.on("error", opts.onError);
  return pool;
}
