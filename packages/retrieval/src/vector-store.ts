/** Where a document lives: every read and write names its tenant, so no call can cross tenants. */
export interface DocumentKey {
  tenant: string;
  collection: string;
  document: string;
}

export interface StoredChunk {
  index: number;
  text: string;
  tokens: number;
  embedding: Float32Array;
}

export interface SearchQuery {
  tenant: string;
  collection: string;
  embedding: Float32Array;
  k: number;
}

export interface SearchHit {
  document: string;
  chunk: number;
  text: string;
  /** Cosine similarity, 1 = same direction. */
  score: number;
}

export type VectorBackend = "pgvector" | "pglite";

/** Chunks and their vectors, searchable by cosine similarity within one tenant's collection. */
export interface VectorStore {
  /** Which backend answers: real Postgres with pgvector, or the embedded one. */
  readonly backend: VectorBackend;
  readonly dimensions: number;
  /** The document's chunks become exactly these (one transaction): an update leaves no stale chunk. */
  replaceDocument(key: DocumentKey, chunks: readonly StoredChunk[]): Promise<void>;
  /** Removes the document's chunks; returns how many there were. */
  deleteDocument(key: DocumentKey): Promise<number>;
  /** Erasure: every chunk of the tenant, in every collection. */
  deleteTenant(tenant: string): Promise<number>;
  /** The k chunks nearest the embedding, best first, from this tenant's collection only. */
  search(query: SearchQuery): Promise<SearchHit[]>;
  /** Documents of a collection and their chunk counts. */
  listDocuments(tenant: string, collection: string): Promise<{ document: string; chunks: number }[]>;
  close(): Promise<void>;
}

export type RetrievalErrorCode =
  | "extension_unavailable"
  | "dimension_mismatch"
  | "store_busy"
  | "unsupported_file"
  | "bad_input";

export class RetrievalError extends Error {
  override readonly name = "RetrievalError";
  readonly code: RetrievalErrorCode;
  /** None of these heals by trying again: each needs a change of configuration or input. */
  readonly retryable = false;

  constructor(code: RetrievalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
