import type { ChatMessage, ChatReply } from "@chatq/contracts";
import {
  ADMIT_SQL,
  type Admission,
  type AdmittedRow,
  admissionRows,
  type ReceivedRequest,
  toAdmissions,
} from "./admission.ts";
import { AUDIT_INSERT_SQL, AuditBuffer, type AuditEvent } from "./audit-buffer.ts";
import { COMPLETE_SQL, completionRows, type Outcome } from "./completion.ts";
import {
  type ContextRow,
  type ConversationSummary,
  contextFromRows,
  LOAD_CONTEXT_SQL,
  SAVE_SUMMARY_SQL,
  type StoredTurn,
  TURNS_BETWEEN_SQL,
} from "./conversation-context.ts";
import { historyLimit, LOAD_HISTORY_SQL } from "./history.ts";
import { jsonParam } from "./json-param.ts";
import {
  COMPARE_SQL,
  type CompareQuery,
  type CompareRow,
  compareParams,
  MODELS_SEEN_SQL,
  SPEND_SQL,
  type SpendQuery,
  type SpendRow,
  spendParams,
  TENANT_SPEND_SQL,
  toSpendRows,
  toVariantFigures,
  type UnpricedModel,
  type VariantFigures,
} from "./ledger.ts";
import { type ConnectionOptions, createPool, Database, type QueryEvent } from "./postgres-pool.ts";
import { REJECT_SQL, type RejectedMessage, rejectionRows } from "./rejection.ts";
import {
  openContextRows,
  openReplyContent,
  openTurns,
  sealAdmissions,
  sealCompletion,
  sealSummary,
} from "./seal-content.ts";
import {
  type BasisRow,
  STORAGE_BASIS_SQL,
  StorageBases,
  withholdAdmissions,
  withholdCompletion,
} from "./storage-policy.ts";
import { openCipher, type StoreEncryption } from "./store-cipher.ts";
import { StoreError, toStoreError } from "./store-error.ts";
import { joinReply } from "./stored-reply.ts";

export interface StoreOptions extends ConnectionOptions {
  /** Called after every statement; wire it to a histogram. */
  onQuery?: (e: QueryEvent) => void;
  /** Errors nobody awaits: idle connections lost, background audit flushes failing, audit rows dropped. */
  onError?: (err: StoreError) => void;
  audit?: { maxRows?: number; flushIntervalMs?: number; maxBuffered?: number };
  /** Content sealed at rest (packages/vault); absent: stored in plaintext (ENCRYPTION=off). */
  encryption?: StoreEncryption;
}

export interface Store {
  /** Stores new requests and their "received" audit rows; says per request_id what to do. One round trip. */
  admit(batch: ReceivedRequest[]): Promise<Map<string, Admission>>;
  /** Turns of completed requests, oldest first; `limit` keeps the last N. */
  loadHistory(conversationId: string, opts?: { limit?: number }): Promise<ChatMessage[]>;
  /** The stored summary and the newest `limit` turns after what it covers (all turns when there is none). */
  loadContext(
    conversationId: string,
    opts?: { limit?: number },
  ): Promise<{ summary: ConversationSummary | undefined; turns: StoredTurn[] }>;
  /** Turns with afterId < id ≤ throughId, oldest first. */
  loadTurnsBetween(conversationId: string, afterId: number, throughId: number): Promise<StoredTurn[]>;
  /** Stores a summary unless one covering as much or more is there already; says whether it was stored. */
  saveSummary(conversationId: string, summary: ConversationSummary & { model: string }): Promise<boolean>;
  /** One transaction, one round trip: replies, usage, history, request status, audit. `inserted`: replies stored now. */
  complete(outcomes: Outcome[]): Promise<{ inserted: Set<string> }>;
  /** Audit rows rejected + dead_lettered; a rejected request and reply when requestId is usable and new. */
  reject(rows: RejectedMessage[]): Promise<void>;
  /** Buffered: append() never waits; rows are written every ~50 ms or 500 rows. */
  audit: { append(e: AuditEvent): void; flush(): Promise<void> };
  findReply(requestId: string): Promise<ChatReply | undefined>;
  /** A reply's content as read from replies.content by another reader (the gateway's webhooks), opened. */
  openReplyContent(requestId: string, content: string | null): Promise<string | null>;
  /** Spend from the usage ledger per UTC day or month, tenant and route. */
  spend(q: SpendQuery): Promise<SpendRow[]>;
  /** A tenant's spend since the start of its current day and month (for budgets at admission). */
  tenantSpend(
    tenant: string,
    dayStart: Date,
    monthStart: Date,
  ): Promise<{ dayUsd: number; monthUsd: number }>;
  /** Every model seen in usage since `since`, with its request count (`chatq prices check`). */
  modelsSeen(since: Date): Promise<UnpricedModel[]>;
  /** Two or more variants of a route side by side (`chatq compare`). */
  compareVariants(q: CompareQuery): Promise<VariantFigures[]>;
  /** For /readyz: one trivial statement. */
  ping(): Promise<void>;
  /** Flushes the audit buffer, then closes every connection. */
  close(): Promise<void>;
}

const warn = (err: StoreError): void => process.emitWarning(err);

/**
 * Connects and checks the schema is migrated, so a wrong DATABASE_URL or a missing `pnpm migrate` stops the worker
 * at start, not at its first message.
 */
export async function createStore(opts: StoreOptions): Promise<Store> {
  const onError = opts.onError ?? warn;
  const pool = createPool(opts, (err) => onError(toStoreError(err, "pool")));
  const db = new Database(pool, opts.onQuery);
  try {
    const [row] = await db.query<{ migrated: boolean }>(
      "connect",
      "select to_regclass('requests') is not null and to_regclass('audit_log') is not null as migrated",
    );
    if (!row?.migrated) {
      throw new StoreError(
        `schema "${opts.schema ?? "public"}" has no chatq tables: run \`pnpm migrate\` first`,
        {
          code: "query",
          retryable: false,
          operation: "connect",
        },
      );
    }
  } catch (err) {
    await db.end().catch(() => {});
    throw err;
  }
  const cipher = await openCipher(db, opts.encryption).catch(async (err: unknown) => {
    await db.end().catch(() => {});
    throw err;
  });

  const audit = new AuditBuffer({
    write: async (rows) => {
      await db.query("audit.flush", AUDIT_INSERT_SQL, [jsonParam(rows)]);
    },
    onError: (err) => onError(err),
    ...opts.audit,
  });
  let closed: Promise<void> | undefined;
  const bases = new StorageBases((subjects) =>
    db.query<BasisRow>("storageBasis", STORAGE_BASIS_SQL, [jsonParam(subjects)]),
  );

  // A summary is sealed under its conversation's data subject, which only the conversation row knows.
  const subjectOfConversation = async (conversationId: string) => {
    if (!cipher.enabled) return {};
    const [row] = await db.query<{ tenant: string | null; user_id: string | null }>(
      "conversationSubject",
      "select tenant, user_id from conversations where conversation_id = $1",
      [conversationId],
    );
    return { tenant: row?.tenant, userId: row?.user_id };
  };

  return {
    async admit(batch) {
      if (batch.length === 0) return new Map();
      const received = admissionRows(batch);
      const input = await sealAdmissions(cipher, withholdAdmissions(received, await bases.of(received)));
      const rows = await db.query<AdmittedRow>("admit", ADMIT_SQL, [jsonParam(input)]);
      for (const r of rows) r.content = await openReplyContent(cipher, r.request_id, r.content);
      return toAdmissions(rows);
    },

    async loadHistory(conversationId, opts) {
      const rows = await db.query<{ request_id: string; role: ChatMessage["role"]; content: string }>(
        "loadHistory",
        LOAD_HISTORY_SQL,
        [conversationId, historyLimit(opts?.limit)],
      );
      const opened = await openTurns(
        cipher,
        rows.map((r) => ({ ...r, conversation_id: conversationId })),
      );
      return opened.map((r) => ({ role: r.role, content: r.content }));
    },

    async loadContext(conversationId, opts) {
      const rows = await db.query<ContextRow>("loadContext", LOAD_CONTEXT_SQL, [
        conversationId,
        historyLimit(opts?.limit),
      ]);
      return contextFromRows(await openContextRows(cipher, conversationId, rows));
    },

    async loadTurnsBetween(conversationId, afterId, throughId) {
      const rows = await db.query<ContextRow & StoredTurn>("loadTurnsBetween", TURNS_BETWEEN_SQL, [
        conversationId,
        afterId,
        throughId,
      ]);
      const opened = await openTurns(
        cipher,
        rows.map((r) => ({ ...r, request_id: r.request_id ?? "", conversation_id: conversationId })),
      );
      return opened.map((r) => ({ id: Number(r.id), role: r.role, content: r.content }));
    },

    async saveSummary(conversationId, s) {
      const rows = await db.query("saveSummary", `${SAVE_SUMMARY_SQL} returning 1`, [
        conversationId,
        await sealSummary(
          cipher,
          await subjectOfConversation(conversationId),
          conversationId,
          s.throughId,
          s.text,
        ),
        s.throughId,
        s.turns,
        s.model,
      ]);
      return rows.length > 0;
    },

    async complete(outcomes) {
      if (outcomes.length === 0) return { inserted: new Set() };
      const built = completionRows(outcomes);
      const rows = await sealCompletion(cipher, withholdCompletion(built, await bases.of(built.outcomes)));
      const stored = await db.query<{ request_id: string }>("complete", COMPLETE_SQL, [
        jsonParam(rows.outcomes),
        jsonParam(rows.turns),
      ]);
      return { inserted: new Set(stored.map((r) => r.request_id)) };
    },

    async reject(rows) {
      if (rows.length === 0) return;
      await db.query("reject", REJECT_SQL, [jsonParam(rejectionRows(rows))]);
    },

    audit: {
      append: (e) => audit.append(e),
      flush: () => audit.flush(),
    },

    async findReply(requestId) {
      const [row] = await db.query<{ reply: unknown; content: string | null }>(
        "findReply",
        "select reply, content from replies where request_id = $1",
        [requestId],
      );
      if (row === undefined) return undefined;
      return joinReply(row.reply, await openReplyContent(cipher, requestId, row.content));
    },

    openReplyContent: (requestId, content) => openReplyContent(cipher, requestId, content),

    async spend(q) {
      return toSpendRows(await db.query("spend", SPEND_SQL, spendParams(q)));
    },

    async tenantSpend(tenant, dayStart, monthStart) {
      const [row] = await db.query<{ day_usd: number; month_usd: number }>("tenantSpend", TENANT_SPEND_SQL, [
        tenant,
        dayStart.toISOString(),
        monthStart.toISOString(),
      ]);
      return { dayUsd: Number(row?.day_usd ?? 0), monthUsd: Number(row?.month_usd ?? 0) };
    },

    async modelsSeen(since) {
      const rows = await db.query<{ model: string; requests: number; last_seen: Date }>(
        "modelsSeen",
        MODELS_SEEN_SQL,
        [since.toISOString()],
      );
      return rows.map((r) => ({ model: r.model, requests: r.requests, lastSeen: r.last_seen }));
    },

    async compareVariants(q) {
      return toVariantFigures(
        q.variants,
        await db.query<CompareRow>("compare", COMPARE_SQL, compareParams(q)),
      );
    },

    async ping() {
      await db.query("ping", "select 1");
    },

    close() {
      closed ??= (async () => {
        try {
          await audit.close();
        } finally {
          await db.end();
        }
      })();
      return closed;
    },
  };
}
