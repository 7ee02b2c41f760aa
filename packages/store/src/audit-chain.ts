import { createHash } from "node:crypto";

/** Chains of the audit log (0004_protection.sql: a row goes to chain pg_backend_pid() % 16). */
export const AUDIT_CHAINS = 16;

/** Where chain `c` starts, as the migration seeded audit_chain_heads: sha256("chatq audit chain <c>"). */
export function genesisHash(chain: number): Buffer {
  return createHash("sha256").update(`chatq audit chain ${chain}`, "utf8").digest();
}

export interface ChainRow {
  id: string;
  chain: number;
  chain_seq: string;
  prev_hash: Buffer;
  hash: Buffer;
  /** audit_row_text(row): what the hash covers. */
  text: string;
}

export type ChainBreak =
  /** The row's columns are not what was hashed: it was edited. */
  | "row_altered"
  /** The row does not follow the previous one: rows were removed or inserted before it. */
  | "link_broken"
  /** The chain ends before its recorded head: its newest rows were removed. */
  | "tail_missing";

export interface BrokenRow {
  chain: number;
  /** The audit_log.id of the first row that does not verify (absent for a missing tail). */
  id?: string;
  seq: number;
  reason: ChainBreak;
}

/** One chain's walk so far: the hash and sequence number the next row must continue. */
export interface ChainCursor {
  chain: number;
  seq: number;
  hash: Buffer;
}

/**
 * Checks the next rows of one chain (in chain_seq order) against the cursor; returns the first break, or the
 * advanced cursor. Pure, so the rules are tested without a database: a row must carry the previous hash, the next
 * sequence number, and a hash of (previous hash ‖ its own text).
 */
export function walkChain(
  cursor: ChainCursor,
  rows: readonly ChainRow[],
): { cursor: ChainCursor; broken?: BrokenRow } {
  let { seq, hash } = cursor;
  for (const r of rows) {
    const rowSeq = Number(r.chain_seq);
    if (rowSeq !== seq + 1 || !r.prev_hash.equals(hash))
      return {
        cursor: { chain: cursor.chain, seq, hash },
        broken: { chain: cursor.chain, id: r.id, seq: rowSeq, reason: "link_broken" },
      };
    const expected = createHash("sha256").update(hash).update(r.text, "utf8").digest();
    if (!expected.equals(r.hash))
      return {
        cursor: { chain: cursor.chain, seq, hash },
        broken: { chain: cursor.chain, id: r.id, seq: rowSeq, reason: "row_altered" },
      };
    seq = rowSeq;
    hash = r.hash;
  }
  return { cursor: { chain: cursor.chain, seq, hash } };
}

/** Rows of one chain after a sequence number, in order, a page at a time (keyset: no OFFSET rescans). */
export const CHAIN_PAGE_SQL = `
select a.id::text, a.chain, a.chain_seq::text, a.prev_hash, a.hash, audit_row_text(a) as text
from audit_log a
where a.chain = $1 and a.chain_seq > $2
order by a.chain_seq
limit $3`;

export const CHAIN_HEADS_SQL = "select chain, seq::text, hash from audit_chain_heads order by chain";
export const CHAIN_PURGES_SQL = "select chain, through_seq::text, through_hash from audit_chain_purges";
