/**
 * Every failure the store reports. Callers branch on `code` and `retryable`, never on message text:
 *   connection — Postgres unreachable, restarting or shutting us out; retry after a pause (retryable).
 *   constraint — the data broke a rule (unique, check, foreign key); retrying the same rows fails again.
 *   query      — anything else the server refused; retryable only for deadlocks, serialization failures, timeouts.
 */
export type StoreErrorCode = "connection" | "constraint" | "query";

export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly code: StoreErrorCode;
  readonly retryable: boolean;
  /** Which store operation failed: "admit", "complete", "audit.flush", "migrate"… */
  readonly operation: string;
  /** The SQLSTATE when the server answered, e.g. "57P01". */
  readonly sqlState: string | undefined;

  constructor(
    message: string,
    fields: {
      code: StoreErrorCode;
      retryable: boolean;
      operation: string;
      sqlState?: string;
      cause?: unknown;
    },
  ) {
    super(message, { cause: fields.cause });
    this.code = fields.code;
    this.retryable = fields.retryable;
    this.operation = fields.operation;
    this.sqlState = fields.sqlState;
  }
}

/** Node socket errors that mean "no usable connection", whatever the query was. */
const SOCKET_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** SQLSTATEs outside class 08 that still mean the connection is gone or refused. */
const CONNECTION_STATES = new Set([
  "57P01", // admin_shutdown: server stopping or our backend terminated
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: server starting up or in recovery
  "53300", // too_many_connections
]);

/** Server errors where the same statement, run again, can succeed. */
const RETRYABLE_QUERY_STATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
  "57014", // query_canceled (statement_timeout)
]);

/**
 * pg reports a lost or timed-out connection as a plain Error with no code, only a message. These are the only
 * message tests in chatq, kept here so nothing else ever looks at pg's wording.
 */
const PG_CONNECTION_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /Client was closed and is not queryable/i,
  /Cannot use a pool after calling end/i,
];

export interface ErrorClass {
  code: StoreErrorCode;
  retryable: boolean;
  sqlState?: string;
}

/** Decides what a pg failure means. Pure: unit-tested beside this file. */
export function classifyPgError(err: unknown): ErrorClass {
  const code = typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
  if (typeof code === "string") {
    if (SOCKET_ERRORS.has(code)) return { code: "connection", retryable: true };
    // A SQLSTATE is five characters; socket codes start with E and are longer.
    if (/^[0-9A-Z]{5}$/.test(code)) {
      if (code.startsWith("08") || CONNECTION_STATES.has(code)) {
        return { code: "connection", retryable: true, sqlState: code };
      }
      if (code.startsWith("23")) return { code: "constraint", retryable: false, sqlState: code };
      return { code: "query", retryable: RETRYABLE_QUERY_STATES.has(code), sqlState: code };
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  if (PG_CONNECTION_MESSAGES.some((re) => re.test(message))) return { code: "connection", retryable: true };
  return { code: "query", retryable: false };
}

/** Wraps anything pg threw into a StoreError naming the operation; a StoreError passes through unchanged. */
export function toStoreError(err: unknown, operation: string): StoreError {
  if (err instanceof StoreError) return err;
  const cls = classifyPgError(err);
  const message = err instanceof Error ? err.message : String(err);
  return new StoreError(`${operation}: ${message}`, {
    code: cls.code,
    retryable: cls.retryable,
    operation,
    ...(cls.sqlState === undefined ? {} : { sqlState: cls.sqlState }),
    cause: err,
  });
}
