import { type ChunkOptions, chunkText } from "./chunk-text.ts";
import type { DocumentKey, VectorStore } from "./vector-store.ts";

/** Embeds texts in order (batched, rate-limited and retried by whoever provides it). */
export type Embed = (texts: readonly string[], tokens: readonly number[]) => Promise<Float32Array[]>;

export interface IngestDeps {
  store: VectorStore;
  embed: Embed;
  chunking: ChunkOptions;
}

/**
 * A document's text → chunks → embeddings → the store, replacing whatever the document held before. Nothing is
 * written until every chunk is embedded, so a failure leaves the previous version whole.
 */
export async function ingestDocument(
  key: DocumentKey,
  text: string,
  deps: IngestDeps,
): Promise<{ chunks: number; tokens: number }> {
  const chunks = chunkText(text, deps.chunking);
  const vectors = await deps.embed(
    chunks.map((c) => c.text),
    chunks.map((c) => c.tokens),
  );
  await deps.store.replaceDocument(
    key,
    chunks.map((c, i) => ({ ...c, embedding: vectors[i] as Float32Array })),
  );
  return { chunks: chunks.length, tokens: chunks.reduce((n, c) => n + c.tokens, 0) };
}
