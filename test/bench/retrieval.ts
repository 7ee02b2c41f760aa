// Retrieval figures: embedding ingestion through the shared limiter, search latency on the embedded store at
// 10k and 100k chunks, and what retrieval adds to a request. The fake API answers embeddings in-process at 0 ms,
// so the figures are chatq's own cost plus the limiter's pacing. Prints figures; asserts nothing.
//   pnpm bench retrieval [--sizes 10000,100000] [--dimensions 256] [--queries 200]
import { parseArgs } from "node:util";
import { embedText, startFakeOpenAI } from "@chatq/fake-openai";
import { openVectorStore, RetrievalError, type VectorStore } from "@chatq/retrieval";
import { loadDocsConfig, openDocumentLibrary } from "@chatq/worker";
import { writeCorpus } from "../harness/retrieval-corpus.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "10000,100000" },
    dimensions: { type: "string", default: "256" },
    queries: { type: "string", default: "200" },
    documents: { type: "string", default: "400" },
  },
});
const dimensions = Number(values.dimensions);
const queries = Number(values.queries);
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/chatq_test";
const results: Record<string, unknown>[] = [];
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;
const mb = () => Math.round(process.memoryUsage().rss / 1e6);

const fake = await startFakeOpenAI({ apiKey: "sk-bench" });
const corpus = writeCorpus(Number(values.documents));

// 1. Ingestion through the limiter: the default embedding limits (3000 RPM, 1M TPM, paced per second), and none.
for (const [label, limits] of [
  ["default limits (3000 RPM, 1M TPM)", {}],
  ["no limit", { EMBEDDING_RPM: "0", EMBEDDING_TPM: "0" }],
] as const) {
  const library = await openDocumentLibrary(
    loadDocsConfig({
      DATABASE_URL: databaseUrl,
      OPENAI_API_KEY: "sk-bench",
      OPENAI_BASE_URL: fake.url,
      RETRIEVAL_STORE: "pglite",
      RETRIEVAL_DIMENSIONS: String(dimensions),
      RETRIEVAL_CHUNK_TOKENS: "60",
      RETRIEVAL_CHUNK_OVERLAP_TOKENS: "12",
      ...limits,
    }),
  );
  const started = performance.now();
  let chunks = 0;
  let tokens = 0;
  for (const d of corpus.documents) {
    const r = await library.addText({ tenant: "bench", collection: "manuals", document: d.name }, d.text);
    chunks += r.chunks;
    tokens += r.tokens;
  }
  const s = (performance.now() - started) / 1000;
  const row = {
    case: `ingest, ${label}`,
    documents: corpus.documents.length,
    chunks,
    tokens,
    seconds: Number(s.toFixed(2)),
    chunks_per_s: Math.round(chunks / s),
    tokens_per_s: Math.round(tokens / s),
  };
  console.log(JSON.stringify(row));
  results.push(row);
  // Added latency of a retrieval request: embedding its user turn (one API call through the limiter) + the search.
  const added: number[] = [];
  for (let i = 0; i < queries; i++) {
    const q = corpus.questions[i % corpus.questions.length]?.question ?? "";
    const t = performance.now();
    await library.search({ tenant: "bench", collection: "manuals", text: q, k: 4 });
    added.push(performance.now() - t);
  }
  const addedRow = {
    case: `added latency per retrieval request (${chunks} chunks), ${label}`,
    p50_ms: Number(pct(added, 0.5).toFixed(2)),
    p99_ms: Number(pct(added, 0.99).toFixed(2)),
  };
  console.log(JSON.stringify(addedRow));
  results.push(addedRow);
  await library.close();
}
await fake.close();

// 2. Search latency by store size, vectors made directly (no API): the store alone.
for (const size of (values.sizes ?? "").split(",").map(Number)) {
  for (const backend of ["pglite", "pgvector"] as const) {
    let store: VectorStore;
    try {
      store = await openVectorStore({ backend, dimensions, databaseUrl, schema: `bench_retrieval_${size}` });
    } catch (err) {
      if (err instanceof RetrievalError && err.code === "extension_unavailable") {
        console.log(
          JSON.stringify({
            case: `search at ${size} chunks on pgvector`,
            skipped: "pgvector is not available on this machine",
            reason: err.message,
          }),
        );
        continue;
      }
      throw err;
    }
    const loadStarted = performance.now();
    const perDoc = 500;
    for (let d = 0; d * perDoc < size; d++) {
      const chunks = Array.from({ length: Math.min(perDoc, size - d * perDoc) }, (_, i) => {
        const doc = corpus.documents[(d * perDoc + i) % corpus.documents.length];
        const text = `${doc?.text.slice((i * 37) % 400, ((i * 37) % 400) + 300)} variant ${d}-${i}`;
        return { index: i, text, tokens: 60, embedding: embedText(text, dimensions) };
      });
      // Two tenants: searches filter to one, as in production.
      await store.replaceDocument(
        { tenant: d % 2 === 0 ? "bench" : "other", collection: "c", document: `doc-${d}` },
        chunks,
      );
    }
    const loadS = (performance.now() - loadStarted) / 1000;
    const lat: number[] = [];
    for (let i = 0; i < queries; i++) {
      const q = corpus.questions[i % corpus.questions.length]?.question ?? "";
      const embedding = embedText(q, dimensions);
      const t = performance.now();
      await store.search({ tenant: "bench", collection: "c", embedding, k: 4 });
      lat.push(performance.now() - t);
    }
    const row = {
      case: `search at ${size} chunks on ${backend}`,
      dimensions,
      load_s: Number(loadS.toFixed(1)),
      insert_chunks_per_s: Math.round(size / loadS),
      p50_ms: Number(pct(lat, 0.5).toFixed(2)),
      p99_ms: Number(pct(lat, 0.99).toFixed(2)),
      rss_mb: mb(),
    };
    console.log(JSON.stringify(row));
    results.push(row);
    await store.close();
  }
}
console.log(`\nJSON ${JSON.stringify(results)}`);
process.exit(0);
