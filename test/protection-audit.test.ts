// The audit log's hash chains: `chatq audit verify` passes on a log written by concurrent writers, and after a
// superuser edits or deletes a row behind the append-only trigger's back it names that row.
import { createStore, migrate } from "@chatq/store";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { runChatq } from "./harness/protection.ts";
import { uniqueScenario } from "./harness/scenario.ts";

const s = uniqueScenario("protect_audit");
const db = scenarioDb(s);
const storeOptions = { databaseUrl: s.services.databaseUrl, schema: s.schema, poolSize: 4 };

const chatq = (...args: string[]) => runChatq(s, {}, ...args);

/** As a superuser would: the append-only trigger does not fire for a session in replica mode. */
async function bypassingTriggers(sql: string, params: unknown[] = []): Promise<void> {
  await db.query(
    `begin; set local session_replication_role = replica; ${sql}; commit;`.replace("$1", String(params[0])),
  );
}

beforeAll(async () => {
  await migrate(storeOptions);
  // Two stores writing at once, each over several connections: rows land on several chains, interleaved.
  const stores = await Promise.all([createStore(storeOptions), createStore(storeOptions)]);
  await Promise.all(
    stores.map(async (store, w) => {
      for (let batch = 0; batch < 10; batch++) {
        await store.admit(
          Array.from({ length: 20 }, (_, n) => ({
            request: {
              request_id: `w${w}-b${batch}-${n}`,
              tenant: `t${n % 3}`,
              messages: [{ role: "user" as const, content: "hi" }],
            },
            model: "gpt-4o-mini",
            priority: "interactive" as const,
            source: { topic: "t", partition: 0, offset: String(batch * 20 + n) },
            receivedAt: new Date(),
          })),
        );
        for (let n = 0; n < 20; n++)
          store.audit.append({
            event: "attempt_started",
            requestId: `w${w}-b${batch}-${n}`,
            attempt: 1,
            at: new Date(),
          });
      }
      await store.close();
    }),
  );
});

afterAll(async () => {
  await db.drop();
});

it("a clean log verifies: every row on a chain, several chains used", async () => {
  const [counts] = await db.query<{ rows: number; chains: number; unchained: number }>(
    "select count(*)::int as rows, count(distinct chain)::int as chains, count(*) filter (where hash is null)::int as unchained from audit_log",
  );
  expect(counts?.rows).toBe(800);
  expect(counts?.unchained).toBe(0);
  expect(counts?.chains).toBeGreaterThan(1);
  const { code, out } = await chatq("audit", "verify");
  expect(out).toContain("800 rows");
  expect(out).toContain("intact");
  expect(code).toBe(0);
});

it("an anchor records the heads in the log, and the log still verifies", async () => {
  const { code, out } = await chatq("audit", "anchor");
  expect(code).toBe(0);
  const anchor = JSON.parse(out) as { heads: { chain: number; seq: number; hash: string }[] };
  expect(anchor.heads.reduce((n, h) => n + h.seq, 0)).toBe(800);
  const [row] = await db.query<{ detail: { heads: Record<string, string> } }>(
    "select detail from audit_log where event = 'anchor'",
  );
  expect(Object.keys(row?.detail.heads ?? {})).toHaveLength(16);
  expect((await chatq("audit", "verify")).code).toBe(0);
});

it("a row edited by a superuser (triggers bypassed) is named by verify", async () => {
  const [target] = await db.query<{ id: string }>(
    "select id::text from audit_log where event = 'received' order by id offset 123 limit 1",
  );
  await bypassingTriggers("update audit_log set error_code = 'forged' where id = $1", [target?.id]);
  const { code, out } = await chatq("audit", "verify", "--json");
  expect(code).toBe(1);
  const result = JSON.parse(out) as { ok: boolean; broken: { id?: string; reason: string }[] };
  expect(result.ok).toBe(false);
  expect(result.broken).toEqual([expect.objectContaining({ id: target?.id, reason: "row_altered" })]);
});

it("a row deleted by a superuser breaks the link at the next row of its chain", async () => {
  const [gone] = await db.query<{ id: string; chain: number; chain_seq: string }>(
    // Verify reports the first break per chain: take the row from a chain the edit above left intact.
    `select id::text, chain, chain_seq::text from audit_log
     where event = 'attempt_started' and chain <> (select chain from audit_log where error_code = 'forged')
     order by id desc offset 5 limit 1`,
  );
  const [next] = await db.query<{ id: string }>(
    "select id::text from audit_log where chain = $1 and chain_seq = $2::bigint + 1",
    [gone?.chain, gone?.chain_seq],
  );
  await bypassingTriggers("delete from audit_log where id = $1", [gone?.id]);
  const { out } = await chatq("audit", "verify");
  expect(out).toContain(`link_broken at audit_log.id ${next?.id}`);
});
