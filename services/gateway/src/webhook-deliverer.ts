import type pg from "pg";
import { gatewayPool } from "./gateway-pool.ts";
import { clientPart } from "./translate.ts";
import { SIGNATURE_HEADER, signWebhook, webhookBackoffMs, webhookSecret } from "./webhook-signature.ts";

export interface WebhookDelivererOptions {
  databaseUrl: string;
  schema: string | undefined;
  pepper: string;
  /** How often each replica looks for webhooks due. */
  pollMs: number;
  /** Attempts before a webhook is given up (its reply stays readable by GET /v1/requests/{id}). */
  maxAttempts: number;
  timeoutMs: number;
  onError: (err: unknown) => void;
  clock?: () => number;
  /** Opens a stored reply's content (sealed at rest with encryption on); default: as stored. */
  openContent?: (requestId: string, content: string | null) => Promise<string | null>;
}

interface DueRow {
  request_id: string;
  tenant_id: string;
  url: string;
  attempts: number;
  reply: { request_id?: unknown; conversation_id?: unknown; [field: string]: unknown };
  content: string | null;
}

// Claims due webhooks whose reply is stored: pushing next_attempt_at out first means two replicas never deliver the
// same attempt, and a replica that dies mid-delivery leaves the row due again after the lease.
const CLAIM_SQL = `
  with due as (
    select w.request_id from webhooks w join replies r using (request_id)
    where w.delivered_at is null and w.given_up_at is null and w.next_attempt_at <= now()
    order by w.next_attempt_at limit 50
    for update of w skip locked
  )
  update webhooks w set next_attempt_at = now() + interval '60 seconds', attempts = w.attempts + 1
  from due, replies r
  where w.request_id = due.request_id and r.request_id = w.request_id
  returning w.request_id, w.tenant_id, w.url, w.attempts, r.reply, r.content`;

/**
 * Delivers the webhooks of asynchronous requests: a POST of the request's state (what GET /v1/requests/{id} answers)
 * signed with the tenant's secret, retried with exponential backoff until a 2xx or `maxAttempts`. Durable: the
 * rows are in Postgres and any replica delivers them, so a webhook survives the replica that accepted its request.
 */
export class WebhookDeliverer {
  readonly #opts: WebhookDelivererOptions;
  readonly #pool: pg.Pool;
  readonly #clock: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(opts: WebhookDelivererOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? Date.now;
    this.#pool = gatewayPool({ ...opts, max: 2, name: "webhooks" });
  }

  /** Registers webhooks for requests just accepted (before they are published, so none can be missed). */
  async register(rows: { requestId: string; tenantId: string; url: string }[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#pool.query(
      `insert into webhooks (request_id, tenant_id, url)
       select * from unnest($1::text[], $2::text[], $3::text[]) on conflict (request_id) do nothing`,
      [rows.map((r) => r.requestId), rows.map((r) => r.tenantId), rows.map((r) => r.url)],
    );
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#running ??= this.deliverDue()
        .then(() => {}, this.#opts.onError)
        .finally(() => {
          this.#running = undefined;
        });
    }, this.#opts.pollMs);
    this.#timer.unref();
  }

  /** One round: claim what is due, deliver each, record the outcome. Returns how many were delivered. */
  async deliverDue(): Promise<number> {
    const { rows } = await this.#pool.query<DueRow>(CLAIM_SQL);
    const results = await Promise.all(rows.map((row) => this.#deliver(row)));
    return results.filter(Boolean).length;
  }

  async #deliver(row: DueRow): Promise<boolean> {
    const {
      request_id: _scoped,
      conversation_id,
      ...rest
    } = {
      ...row.reply,
      content: (await (this.#opts.openContent?.(row.request_id, row.content) ?? row.content)) ?? undefined,
    };
    const body = JSON.stringify({
      ...rest,
      id: clientPart(row.tenant_id, row.request_id),
      ...(typeof conversation_id === "string" && {
        conversation_id: clientPart(row.tenant_id, conversation_id),
      }),
    });
    let error: string | undefined;
    try {
      const res = await fetch(row.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [SIGNATURE_HEADER]: signWebhook(
            webhookSecret(this.#opts.pepper, row.tenant_id),
            body,
            this.#clock(),
          ),
        },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.#opts.timeoutMs),
      });
      await res.body?.cancel();
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (err) {
      error = err instanceof Error ? err.message.slice(0, 200) : "delivery failed";
    }
    if (error === undefined) {
      await this.#pool.query(
        "update webhooks set delivered_at = now(), last_error = null where request_id = $1",
        [row.request_id],
      );
      return true;
    }
    const giveUp = row.attempts >= this.#opts.maxAttempts;
    await this.#pool.query(
      `update webhooks set last_error = $2,
         next_attempt_at = now() + make_interval(secs => $3::double precision / 1000),
         given_up_at = case when $4 then now() end
       where request_id = $1`,
      [row.request_id, error, webhookBackoffMs(row.attempts), giveUp],
    );
    return false;
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#running;
    await this.#pool.end();
  }
}
