export { type ChunkOptions, chunkText, type TextChunk } from "./chunk-text.ts";
export { CONTEXT_HEADING, contextMessage } from "./context-message.ts";
export { embeddingBatches } from "./embedding-batches.ts";
export { type DocumentFormat, extractText, formatOf } from "./extract-text.ts";
export { type Embed, type IngestDeps, ingestDocument } from "./ingest-document.ts";
export { openVectorStore, type VectorStoreOptions } from "./open-vector-store.ts";
export { MAX_K } from "./vector-sql.ts";
export {
  type DocumentKey,
  RetrievalError,
  type RetrievalErrorCode,
  type SearchHit,
  type SearchQuery,
  type StoredChunk,
  type VectorBackend,
  type VectorStore,
} from "./vector-store.ts";
