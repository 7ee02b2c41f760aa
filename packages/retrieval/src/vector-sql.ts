import {
  RetrievalError,
  type SearchHit,
  type StoredChunk,
  type VectorBackend,
  type VectorStore,
} from "./vector-store.ts";

/** The little both backends share: node-postgres's Pool and PGlite both answer `query(text, params)` with rows. */
export interface SqlPort {
  query<R>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
  /** Runs fn on one connection inside begin/commit (rollback on a throw). */
  transaction<T>(fn: (tx: Pick<SqlPort, "query">) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * The schema, identical on both backends. HNSW with cosine distance: the index pgvector users choose for
 * normalised embeddings; (tenant, collection) is the filter of every search.
 */
export function schemaSql(dimensions: number): string {
  return `
create extension if not exists vector;
create table if not exists retrieval_chunks (
  tenant      text not null,
  collection  text not null,
  document    text not null,
  chunk       integer not null,
  -- Content: the chunk's text, handed to the model as context.
  content     text not null,
  tokens      integer not null,
  embedding   vector(${dimensions}) not null,
  created_at  timestamptz not null default now(),
  primary key (tenant, collection, document, chunk)
);
create index if not exists retrieval_chunks_embedding_idx
  on retrieval_chunks using hnsw (embedding vector_cosine_ops);`;
}

/** pgvector's text form of a vector: "[0.1,0.2,…]". */
export function vectorLiteral(v: Float32Array): string {
  return `[${Array.from(v).join(",")}]`;
}

// Rows go in with one statement per document: arrays unnested server-side, the vector cast from its text form.
const INSERT_SQL = `
insert into retrieval_chunks (tenant, collection, document, chunk, content, tokens, embedding)
select $1, $2, $3, u.chunk, u.content, u.tokens, u.embedding::vector
from unnest($4::int[], $5::text[], $6::int[], $7::text[]) as u(chunk, content, tokens, embedding)`;

// Filtered HNSW: without an iterative scan the index returns ef_search candidates and the filter may leave fewer
// than k of them; strict_order keeps scanning until k rows of this tenant's collection are found (pgvector ≥ 0.8).
const SEARCH_SQL = `
select document, chunk, content, 1 - (embedding <=> $3::vector) as score
from retrieval_chunks
where tenant = $1 and collection = $2
order by embedding <=> $3::vector
limit $4`;

/** Most chunks a search may ask for: k goes into ef_search, which pgvector caps at 1000. */
export const MAX_K = 100;

export class SqlVectorStore implements VectorStore {
  readonly backend: VectorBackend;
  readonly dimensions: number;
  readonly #sql: SqlPort;

  constructor(sql: SqlPort, backend: VectorBackend, dimensions: number) {
    this.#sql = sql;
    this.backend = backend;
    this.dimensions = dimensions;
  }

  /** Creates the schema if missing, and refuses a table built for other dimensions (its vectors cannot mix). */
  async prepare(): Promise<void> {
    await this.#sql.transaction(async (tx) => {
      // Two processes preparing at once would race on "create … if not exists".
      await tx.query("select pg_advisory_xact_lock(0x63686174, 5)");
      await tx.query(schemaSql(this.dimensions));
    });
    const { rows } = await this.#sql.query<{ dims: number }>(
      `select atttypmod as dims from pg_attribute
       where attrelid = 'retrieval_chunks'::regclass and attname = 'embedding'`,
    );
    const dims = rows[0]?.dims;
    if (dims !== undefined && dims !== this.dimensions) {
      throw new RetrievalError(
        "dimension_mismatch",
        `retrieval_chunks holds ${dims}-dimension vectors, configured ${this.dimensions}: re-embed into a new store or set the dimensions back`,
      );
    }
  }

  async replaceDocument(
    key: { tenant: string; collection: string; document: string },
    chunks: readonly StoredChunk[],
  ) {
    for (const c of chunks) this.#checkDimensions(c.embedding);
    await this.#sql.transaction(async (tx) => {
      await tx.query("delete from retrieval_chunks where tenant = $1 and collection = $2 and document = $3", [
        key.tenant,
        key.collection,
        key.document,
      ]);
      if (chunks.length === 0) return;
      await tx.query(INSERT_SQL, [
        key.tenant,
        key.collection,
        key.document,
        chunks.map((c) => c.index),
        chunks.map((c) => c.text),
        chunks.map((c) => c.tokens),
        chunks.map((c) => vectorLiteral(c.embedding)),
      ]);
    });
  }

  async deleteDocument(key: { tenant: string; collection: string; document: string }): Promise<number> {
    const { rows } = await this.#sql.query<{ n: number }>(
      `with gone as (delete from retrieval_chunks where tenant = $1 and collection = $2 and document = $3 returning 1)
       select count(*)::int as n from gone`,
      [key.tenant, key.collection, key.document],
    );
    return rows[0]?.n ?? 0;
  }

  async deleteTenant(tenant: string): Promise<number> {
    const { rows } = await this.#sql.query<{ n: number }>(
      `with gone as (delete from retrieval_chunks where tenant = $1 returning 1) select count(*)::int as n from gone`,
      [tenant],
    );
    return rows[0]?.n ?? 0;
  }

  async search(q: {
    tenant: string;
    collection: string;
    embedding: Float32Array;
    k: number;
  }): Promise<SearchHit[]> {
    this.#checkDimensions(q.embedding);
    if (!Number.isInteger(q.k) || q.k < 1 || q.k > MAX_K) {
      throw new RetrievalError("bad_input", `k must be a whole number from 1 to ${MAX_K}, got ${q.k}`);
    }
    const rows = await this.#sql.transaction(async (tx) => {
      await tx.query("set local hnsw.iterative_scan = strict_order");
      await tx.query(`set local hnsw.ef_search = ${Math.max(40, q.k * 4)}`);
      const { rows } = await tx.query<{ document: string; chunk: number; content: string; score: number }>(
        SEARCH_SQL,
        [q.tenant, q.collection, vectorLiteral(q.embedding), q.k],
      );
      return rows;
    });
    return rows.map((r) => ({
      document: r.document,
      chunk: r.chunk,
      text: r.content,
      score: Number(r.score),
    }));
  }

  async listDocuments(tenant: string, collection: string) {
    const { rows } = await this.#sql.query<{ document: string; chunks: number }>(
      `select document, count(*)::int as chunks from retrieval_chunks
       where tenant = $1 and collection = $2 group by document order by document`,
      [tenant, collection],
    );
    return rows;
  }

  close(): Promise<void> {
    return this.#sql.close();
  }

  #checkDimensions(v: Float32Array): void {
    if (v.length !== this.dimensions) {
      throw new RetrievalError(
        "dimension_mismatch",
        `a ${v.length}-dimension vector for a store of ${this.dimensions}`,
      );
    }
  }
}
