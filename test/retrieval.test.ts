import { type FakeOpenAI, startFakeOpenAI } from "@chatq/fake-openai";
import { openVectorStore, RetrievalError } from "@chatq/retrieval";
import { type DocumentLibrary, loadDocsConfig, openDocumentLibrary } from "@chatq/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { scenarioFor } from "./harness/names.ts";
import { writeCorpus } from "./harness/retrieval-corpus.ts";
import { services } from "./setup/services.ts";

// Every backend this machine has runs the same tests; the output says which ran and why one did not.
const scenario = scenarioFor("retrieval", services());
const backends: ("pglite" | "pgvector")[] = ["pglite"];
try {
  const probe = await openVectorStore({
    backend: "pgvector",
    dimensions: 8,
    databaseUrl: services().databaseUrl,
    schema: `${scenario.schema}_probe`,
  });
  await probe.close();
  backends.push("pgvector");
} catch (err) {
  if (!(err instanceof RetrievalError) || err.code !== "extension_unavailable") throw err;
  console.log(`retrieval backends: pgvector NOT available on this machine, not run (${err.message})`);
}
console.log(`retrieval backends run: ${backends.join(", ")}`);

const K = 4;
const corpus = writeCorpus(70);

describe.each(backends)("retrieval on %s", (backend) => {
  let fake: FakeOpenAI;
  let library: DocumentLibrary;
  const schema = `${scenario.schema}_${backend}`;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: "sk-retrieval" });
    library = await openDocumentLibrary(
      loadDocsConfig({
        DATABASE_URL: services().databaseUrl,
        DATABASE_SCHEMA: schema,
        OPENAI_API_KEY: "sk-retrieval",
        OPENAI_BASE_URL: fake.url,
        RETRIEVAL_STORE: backend,
        RETRIEVAL_DIMENSIONS: "256",
        RETRIEVAL_CHUNK_TOKENS: "60",
        RETRIEVAL_CHUNK_OVERLAP_TOKENS: "12",
      }),
    );
    expect(library.store.backend).toBe(backend);
  });
  afterAll(async () => {
    await library?.close();
    await fake?.close();
    if (backend === "pgvector") await scenarioDb({ ...scenario, schema }).drop();
  });

  it(`questions retrieve the manual that answers them (recall@${K} over a few hundred chunks)`, async () => {
    let chunks = 0;
    for (const d of corpus.documents) {
      chunks += (await library.addText({ tenant: "acme", collection: "manuals", document: d.name }, d.text))
        .chunks;
    }
    expect(chunks).toBeGreaterThanOrEqual(300);
    let found = 0;
    for (const q of corpus.questions) {
      const hits = await library.search({ tenant: "acme", collection: "manuals", text: q.question, k: K });
      expect(hits).toHaveLength(K);
      if (hits.some((h) => h.document === q.document)) found++;
    }
    const recall = found / corpus.questions.length;
    console.log(
      `retrieval on ${backend}: recall@${K} = ${recall.toFixed(3)} (${found}/${corpus.questions.length} questions, ${chunks} chunks, ${fake.stats().embeddings_total} embedding calls)`,
    );
    // The figure reached on pglite (HNSW, the same index code as pgvector): every question finds its manual.
    expect(recall).toBeGreaterThanOrEqual(1);
  });

  it("a tenant never retrieves another tenant's chunks, even for a question only the other can answer", async () => {
    const secret = "The globex vault code is kept in the quartz cabinet behind the mural.";
    await library.addText({ tenant: "globex", collection: "manuals", document: "vault.md" }, secret);
    const asAcme = await library.search({
      tenant: "acme",
      collection: "manuals",
      text: "globex vault code quartz cabinet",
      k: 10,
    });
    expect(asAcme.map((h) => h.document)).not.toContain("vault.md");
    expect(asAcme.every((h) => !h.text.includes("quartz"))).toBe(true);
    const asGlobex = await library.search({
      tenant: "globex",
      collection: "manuals",
      text: "vault code",
      k: 10,
    });
    expect(asGlobex.map((h) => h.document)).toEqual(["vault.md"]);
    // Another collection of the same tenant is another scope too.
    expect(await library.search({ tenant: "globex", collection: "other", text: "vault code", k: 3 })).toEqual(
      [],
    );
  });

  it("updating a document replaces its chunks and deleting it removes them: no stale chunk", async () => {
    const key = { tenant: "initech", collection: "policies", document: "leave.md" };
    const longOld = Array.from(
      { length: 12 },
      (_, i) => `Old rule ${i}: staplers are assigned per desk.`,
    ).join(" ");
    const v1 = await library.addText(key, longOld);
    expect(v1.chunks).toBeGreaterThan(1);
    await library.addText(key, "New rule: every employee gets thirty days of paid leave.");
    const after = await library.search({
      tenant: "initech",
      collection: "policies",
      text: "staplers desk old rule",
      k: 10,
    });
    expect(after).toHaveLength(1);
    expect(after[0]?.text).toContain("thirty days");
    expect(await library.store.listDocuments("initech", "policies")).toEqual([
      { document: "leave.md", chunks: 1 },
    ]);
    expect(await library.delete(key)).toBe(1);
    expect(await library.search({ tenant: "initech", collection: "policies", text: "leave", k: 5 })).toEqual(
      [],
    );
    expect(await library.store.deleteTenant("globex")).toBe(1);
  });
});
