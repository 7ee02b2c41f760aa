import {
  AUDIT_CHAINS,
  type BrokenRow,
  CHAIN_HEADS_SQL,
  CHAIN_PAGE_SQL,
  CHAIN_PURGES_SQL,
  type ChainCursor,
  type ChainRow,
  genesisHash,
  walkChain,
} from "./audit-chain.ts";
import { type ConnectionOptions, createPool, Database } from "./postgres-pool.ts";

export interface ChainHead {
  chain: number;
  seq: number;
  hash: string;
}

export interface AuditVerification {
  ok: boolean;
  rows: number;
  /** The first break of each broken chain, in chain order. */
  broken: BrokenRow[];
  /** Every chain's head as recomputed from its rows (what an anchor is compared with). */
  heads: ChainHead[];
}

const PAGE = 5_000;

/**
 * `chatq audit verify`: recomputes every chain from its start (or from where retention last cut it) and reports the
 * first row of each chain that does not verify, then checks each chain reaches its recorded head.
 */
export async function verifyAuditLog(
  opts: ConnectionOptions,
  onProgress?: (rows: number) => void,
): Promise<AuditVerification> {
  const db = new Database(createPool({ ...opts, poolSize: 1 }, () => {}));
  try {
    const purges = new Map(
      (
        await db.query<{ chain: number; through_seq: string; through_hash: Buffer }>(
          "audit.purges",
          CHAIN_PURGES_SQL,
        )
      ).map((p) => [p.chain, p]),
    );
    const recorded = new Map(
      (await db.query<{ chain: number; seq: string; hash: Buffer }>("audit.heads", CHAIN_HEADS_SQL)).map(
        (h) => [h.chain, h],
      ),
    );
    let rows = 0;
    const broken: BrokenRow[] = [];
    const heads: ChainHead[] = [];
    for (let chain = 0; chain < AUDIT_CHAINS; chain++) {
      const purge = purges.get(chain);
      let cursor: ChainCursor = purge
        ? { chain, seq: Number(purge.through_seq), hash: purge.through_hash }
        : { chain, seq: 0, hash: genesisHash(chain) };
      let chainBroken: BrokenRow | undefined;
      for (;;) {
        const page = await db.query<ChainRow>("audit.verify", CHAIN_PAGE_SQL, [chain, cursor.seq, PAGE]);
        const walked = walkChain(cursor, page);
        rows += page.length;
        onProgress?.(rows);
        cursor = walked.cursor;
        if (walked.broken !== undefined) {
          chainBroken = walked.broken;
          break;
        }
        if (page.length < PAGE) break;
      }
      const head = recorded.get(chain);
      if (chainBroken === undefined && head !== undefined && cursor.seq < Number(head.seq))
        chainBroken = { chain, seq: cursor.seq + 1, reason: "tail_missing" };
      if (chainBroken !== undefined) broken.push(chainBroken);
      heads.push({ chain, seq: cursor.seq, hash: cursor.hash.toString("hex") });
    }
    return { ok: broken.length === 0, rows, broken, heads };
  } finally {
    await db.end();
  }
}

/**
 * `chatq audit anchor`: the chains' recorded heads written into the log itself (event `anchor`) and returned, for
 * the caller to keep outside the database (a log line, a metric, a ticket). A later verify whose heads do not
 * extend an anchor kept elsewhere shows the log was cut or rewritten past it.
 */
export async function anchorAuditLog(opts: ConnectionOptions, by: string): Promise<ChainHead[]> {
  const db = new Database(createPool({ ...opts, poolSize: 1 }, () => {}));
  try {
    const heads = (
      await db.query<{ chain: number; seq: string; hash: Buffer }>("audit.heads", CHAIN_HEADS_SQL)
    ).map((h) => ({ chain: h.chain, seq: Number(h.seq), hash: h.hash.toString("hex") }));
    await db.query(
      "audit.anchor",
      "insert into audit_log (at, event, detail) values (now(), 'anchor', $1::jsonb)",
      [JSON.stringify({ by, heads: Object.fromEntries(heads.map((h) => [h.chain, `${h.seq}:${h.hash}`])) })],
    );
    return heads;
  } finally {
    await db.end();
  }
}
