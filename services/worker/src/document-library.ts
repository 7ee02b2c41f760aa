import { setTimeout as delay } from "node:timers/promises";
import { countTextTokens, createChatClient, createEmbeddingClient } from "@chatq/llm";
import { createRateLimiter, type RateLimiter } from "@chatq/ratelimit";
import {
  type DocumentKey,
  extractText,
  formatOf,
  ingestDocument,
  openVectorStore,
  type SearchHit,
  type VectorStore,
} from "@chatq/retrieval";
import type { RetryDeps } from "./answer-with-retries.ts";
import { ApiGates } from "./api-gates.ts";
import type { DocsConfig, RetrievalConfig } from "./config.ts";
import { embedWithRetries } from "./embed-with-retries.ts";
import { WorkerEvents } from "./worker-events.ts";

/** What `chatq docs` (and benchmarks) do to a tenant's documents, through the same API path as the worker. */
export interface DocumentLibrary {
  readonly store: VectorStore;
  /** Loads (or replaces) one document from its bytes; the format comes from the file name. */
  add(key: DocumentKey, bytes: Uint8Array, fileName: string): Promise<{ chunks: number; tokens: number }>;
  addText(key: DocumentKey, text: string): Promise<{ chunks: number; tokens: number }>;
  delete(key: DocumentKey): Promise<number>;
  /** The k chunks of the tenant's collection nearest the text. */
  search(q: { tenant: string; collection: string; text: string; k: number }): Promise<SearchHit[]>;
  close(): Promise<void>;
}

const now = () => performance.now();
const sleep = (ms: number, signal?: AbortSignal) =>
  delay(ms, undefined, signal ? { signal } : {}).catch(() => undefined) as Promise<void>;

export async function openDocumentLibrary(
  config: DocsConfig,
  onNote: (note: string) => void = () => {},
): Promise<DocumentLibrary> {
  const store = await openRetrievalStore(config.retrieval, config, onNote);
  let limiter: RateLimiter | undefined;
  try {
    limiter = await createRateLimiter({
      limits: config.rateLimit.limits,
      burstSliceMs: config.rateLimit.burstSliceMs,
      onError: (err) => onNote(`rate limiter: shared budget call failed: ${String(err)}`),
      ...(config.redisUrl !== undefined && {
        redis: { url: config.redisUrl, keyPrefix: config.rateLimit.keyPrefix },
      }),
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  const api = {
    apiKey: config.openai.apiKey,
    baseURL: config.openai.baseURL,
    organization: config.openai.organization,
  };
  const chat = createChatClient(api);
  const events = new WorkerEvents(() => {});
  const deps: RetryDeps = {
    limiter,
    gates: new ApiGates({
      probeAccount: () => chat.probe(5000),
      accountMaxOpenMs: 2000,
      modelMaxOpenMs: 1000,
      now,
      sleep,
      random: Math.random,
      onChange: (circuit, state, info) =>
        onNote(`API circuit ${circuit} ${state}${info.reason ? `: ${info.reason}` : ""}`),
    }),
    // Loading documents is an operator's action, not a request: it has no audit trail of its own.
    audit: () => {},
    events,
    policy: config.openai.retry,
    timeoutMs: config.openai.timeoutMs,
    sleep,
    random: Math.random,
    now,
  };
  const stopping = new AbortController();
  const embeddings = createEmbeddingClient(api);
  const model = config.retrieval.embedding.model;
  const chunking = {
    ...config.retrieval.chunking,
    countTokens: (text: string) => countTextTokens(model, text),
  };
  const addText = (key: DocumentKey, text: string) =>
    ingestDocument(key, text, {
      store,
      chunking,
      embed: embedWithRetries(embeddings, deps, config.retrieval.embedding, {
        // Ingestion yields to interactive requests sharing the budget.
        priority: "batch",
        lease: stopping.signal,
        ids: { requestId: `docs:${key.tenant}:${key.collection}:${key.document}`, tenant: key.tenant },
      }),
    });
  return {
    store,
    addText,
    async add(key, bytes, fileName) {
      return addText(key, await extractText(bytes, formatOf(fileName), fileName));
    },
    delete: (key) => store.deleteDocument(key),
    async search(q) {
      const embed = embedWithRetries(embeddings, deps, config.retrieval.embedding, {
        priority: "interactive",
        lease: stopping.signal,
        ids: { requestId: `docs-search:${q.tenant}`, tenant: q.tenant },
      });
      const [vector] = await embed([q.text], [countTextTokens(model, q.text)]);
      return store.search({
        tenant: q.tenant,
        collection: q.collection,
        embedding: vector as Float32Array,
        k: q.k,
      });
    },
    async close() {
      stopping.abort();
      await limiter?.close();
      await store.close();
    },
  };
}

/** The configured vector store; `off` counts as `auto` for whoever asks for one explicitly (the docs CLI). */
export function openRetrievalStore(
  retrieval: RetrievalConfig,
  database: { databaseUrl: string; schema?: string | undefined },
  onNote: (note: string) => void,
): Promise<VectorStore> {
  return openVectorStore({
    backend: retrieval.store === "off" ? "auto" : retrieval.store,
    dimensions: retrieval.embedding.dimensions,
    databaseUrl: database.databaseUrl,
    schema: database.schema,
    dataDir: retrieval.dataDir,
    onFallback: (reason) => onNote(`pgvector unavailable (${reason}); using the embedded store`),
  });
}
