import { StoreError, toStoreError } from "./store-error.ts";

export type AuditEventName =
  | "received"
  | "rejected"
  | "attempt_started"
  | "attempt_failed"
  | "completed"
  | "failed"
  | "dead_lettered"
  | "reply_republished"
  | "anchor"
  | "erased"
  | "exported"
  | "purged"
  | "consent_granted"
  | "consent_revoked"
  | "guardrail";

/** One state change of one request. `detail` never carries content: positions, latencies, reasons. */
export interface AuditEvent {
  event: AuditEventName;
  requestId?: string;
  conversationId?: string;
  tenant?: string;
  attempt?: number;
  httpStatus?: number;
  errorCode?: string;
  detail?: Record<string, unknown>;
  at: Date;
}

export interface AuditRow {
  ord: number;
  at: string;
  request_id: string | null;
  conversation_id: string | null;
  tenant: string | null;
  event: AuditEventName;
  attempt: number | null;
  http_status: number | null;
  error_code: string | null;
  detail: Record<string, unknown> | null;
}

export function auditRows(events: readonly AuditEvent[]): AuditRow[] {
  return events.map((e, ord) => ({
    ord,
    at: e.at.toISOString(),
    request_id: e.requestId ?? null,
    conversation_id: e.conversationId ?? null,
    tenant: e.tenant ?? null,
    event: e.event,
    attempt: e.attempt ?? null,
    http_status: e.httpStatus ?? null,
    error_code: e.errorCode ?? null,
    detail: e.detail ?? null,
  }));
}

/** Rows keep the order they were appended in: `id` is assigned in the order of this SELECT. */
export const AUDIT_INSERT_SQL = `
insert into audit_log (at, request_id, conversation_id, tenant, event, attempt, http_status, error_code, detail)
select at, request_id, conversation_id, tenant, event, attempt, http_status, error_code, detail
from json_to_recordset($1::json) as x(
  ord int, at timestamptz, request_id text, conversation_id text, tenant text, event text,
  attempt int, http_status int, error_code text, detail jsonb)
order by ord`;

/** Schedules fn after ms; returns a cancel function. Injected so tests control time. */
export type ScheduleFn = (fn: () => void, ms: number) => () => void;

const scheduleWithTimeout: ScheduleFn = (fn, ms) => {
  // unref: a pending audit flush must not keep a finished process alive; close() flushes explicitly.
  const t = setTimeout(fn, ms).unref();
  return () => clearTimeout(t);
};

export interface AuditBufferOptions {
  /** Writes rows in one statement. */
  write: (rows: AuditRow[]) => Promise<void>;
  /** Background flush failures and dropped rows are reported here, since no caller awaits them. */
  onError: (err: StoreError, ctx: { rows: number; dropped: number }) => void;
  /** Flush when this many rows wait; also the most rows per statement. Default 500. */
  maxRows?: number;
  /** Flush at most this long after the first buffered row. Default 50 ms. */
  flushIntervalMs?: number;
  /** While Postgres is unreachable rows wait, up to this many; then the oldest are dropped. Default 50 000. */
  maxBuffered?: number;
  schedule?: ScheduleFn;
}

/**
 * The audit writer: attempt rows arrive at hundreds per second, far too many for a statement each, so they are
 * collected and written as one multi-row insert every flushIntervalMs or maxRows rows, whichever comes first.
 * Writes never overlap, so rows land in append order. A retryable failure keeps the rows and tries again with
 * backoff; a non-retryable one (the rows themselves are bad) drops them, reported through onError.
 */
export class AuditBuffer {
  readonly #write: AuditBufferOptions["write"];
  readonly #onError: AuditBufferOptions["onError"];
  readonly #maxRows: number;
  readonly #intervalMs: number;
  readonly #maxBuffered: number;
  readonly #schedule: ScheduleFn;
  #events: AuditEvent[] = [];
  #cancelTimer: (() => void) | undefined;
  #writing: Promise<void> = Promise.resolve();
  #failures = 0;
  #queued = false;
  #closed = false;

  constructor(opts: AuditBufferOptions) {
    this.#write = opts.write;
    this.#onError = opts.onError;
    this.#maxRows = opts.maxRows ?? 500;
    this.#intervalMs = opts.flushIntervalMs ?? 50;
    this.#maxBuffered = opts.maxBuffered ?? 50_000;
    this.#schedule = opts.schedule ?? scheduleWithTimeout;
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.#events.length;
  }

  /** Never throws and never waits; after close() it does nothing. */
  append(e: AuditEvent): void {
    if (this.#closed) return;
    this.#events.push(e);
    if (this.#events.length > this.#maxBuffered) {
      const dropped = this.#events.length - this.#maxBuffered;
      this.#events.splice(0, dropped);
      this.#onError(
        new StoreError(`audit buffer full: dropped the ${dropped} oldest rows`, {
          code: "connection",
          retryable: true,
          operation: "audit.append",
        }),
        { rows: 0, dropped },
      );
    }
    if (this.#events.length >= this.#maxRows && this.#failures === 0) this.#flushInBackground();
    else this.#arm(this.#failures === 0 ? this.#intervalMs : this.#backoffMs());
  }

  /** Writes everything buffered so far; rejects when a write fails (the rows stay buffered if worth retrying). */
  flush(): Promise<void> {
    this.#disarm();
    const run = this.#writing.then(() => {
      this.#queued = false;
      return this.#drain();
    });
    // The chain must survive a failed write, or every later flush would fail with the same error.
    this.#writing = run.catch(() => {});
    return run;
  }

  /** Flushes, then ignores further appends. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      this.#disarm();
    }
  }

  #flushInBackground(): void {
    // One queued flush drains everything, so appends during a write don't pile up more.
    if (this.#queued) return;
    this.#queued = true;
    this.flush().catch((err: unknown) => {
      const e = toStoreError(err, "audit.flush");
      // Dropped rows were reported by #drain; here only the failure that keeps rows waiting.
      if (e.retryable) this.#onError(e, { rows: this.#events.length, dropped: 0 });
      if (this.#events.length > 0) this.#arm(this.#backoffMs());
    });
  }

  async #drain(): Promise<void> {
    while (this.#events.length > 0) {
      const batch = this.#events.splice(0, this.#maxRows);
      try {
        await this.#write(auditRows(batch));
        this.#failures = 0;
      } catch (err) {
        const e = toStoreError(err, "audit.flush");
        if (e.retryable) {
          this.#failures += 1;
          // Back to the front, so a later write keeps the original order; trim to the bound.
          this.#events.unshift(...batch);
          const over = this.#events.length - this.#maxBuffered;
          if (over > 0) this.#events.splice(0, over);
        } else {
          this.#onError(e, { rows: batch.length, dropped: batch.length });
        }
        throw e;
      }
    }
  }

  #arm(ms: number): void {
    if (this.#cancelTimer !== undefined || this.#closed) return;
    this.#cancelTimer = this.#schedule(() => {
      this.#cancelTimer = undefined;
      this.#flushInBackground();
    }, ms);
  }

  #disarm(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  #backoffMs(): number {
    return Math.min(this.#intervalMs * 2 ** this.#failures, 5_000);
  }
}
