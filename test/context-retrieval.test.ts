import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChatReply, ChatRequest } from "@chatq/contracts";
import type { FakeOpenAI } from "@chatq/fake-openai";
import { loadDocsConfig, openDocumentLibrary } from "@chatq/worker";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka } from "./harness/kafka-io.ts";
import { writeCorpus } from "./harness/retrieval-corpus.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { spawnWorker, type WorkerProcess } from "./harness/worker-process.ts";

const s = uniqueScenario("ctx_retrieval");
const kafka = testKafka(s);
const db = scenarioDb(s);
const corpus = writeCorpus(30);
const retrievalEnv = {
  RETRIEVAL_STORE: "pglite",
  RETRIEVAL_DIMENSIONS: "256",
  RETRIEVAL_CHUNK_TOKENS: "60",
  RETRIEVAL_CHUNK_OVERLAP_TOKENS: "12",
  RETRIEVAL_TENANT_DEFAULTS: JSON.stringify({ globex: { collection: "manuals", k: 2 } }),
};
let fake: FakeOpenAI;
let worker: WorkerProcess;
let dataDir: string;

beforeAll(async () => {
  fake = await startTestFake();
  dataDir = await mkdtemp(join(tmpdir(), "chatq-vectors-"));
  // The embedded store belongs to one process at a time: load the documents first, then start the worker on them.
  const library = await openDocumentLibrary(
    loadDocsConfig({
      DATABASE_URL: s.services.databaseUrl,
      OPENAI_API_KEY: "sk-chatq-test",
      OPENAI_BASE_URL: fake.url,
      RETRIEVAL_DATA_DIR: dataDir,
      ...retrievalEnv,
    }),
  );
  for (const tenant of ["acme", "globex"]) {
    for (const d of corpus.documents.filter((_, i) => (tenant === "acme" ? i % 2 === 0 : i % 2 === 1))) {
      await library.addText({ tenant, collection: "manuals", document: d.name }, d.text);
    }
  }
  await library.close();
  await createTopics(kafka, s, 1);
  worker = spawnWorker(s, fake.url, { ...retrievalEnv, RETRIEVAL_DATA_DIR: dataDir });
  await worker.metricsUrl;
});

afterAll(async () => {
  await worker?.stop();
  await fake?.close();
  await db.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it("a request naming a collection gets its tenant's top chunks as context, and the reply lists them as sources", async () => {
  const replies = await collect(kafka, s.topics.replies, "ctx");
  const publisher = await requestPublisher(kafka, s);
  const acmeDoc = corpus.documents[0];
  const globexDoc = corpus.documents[1];
  const brand = (d: typeof acmeDoc) => d?.product.split(" ")[0] ?? "";
  const requests: ChatRequest[] = [
    {
      request_id: "asks-acme",
      tenant: "acme",
      messages: [{ role: "user", content: `How long is the ${acmeDoc?.product} warranty?` }],
      retrieval: { collection: "manuals", k: 3 },
    },
    // globex asks about acme's product: its own documents are all it can get.
    {
      request_id: "asks-globex-default",
      tenant: "globex",
      messages: [
        {
          role: "user",
          content: `How long is the ${acmeDoc?.product} warranty? And the ${globexDoc?.product}?`,
        },
      ],
    },
    {
      request_id: "no-tenant",
      messages: [{ role: "user", content: "hi" }],
      retrieval: { collection: "manuals", k: 3 },
    },
    { request_id: "plain", tenant: "acme", messages: [{ role: "user", content: "no retrieval here" }] },
  ];
  await publisher.publish(requests);
  await replies.waitForRequests(requests.length, 60_000);
  const byId = new Map<string, ChatReply>(replies.replies().map((r) => [r.request_id, r]));

  const acme = byId.get("asks-acme");
  expect(acme?.status).toBe("completed");
  expect(acme?.sources).toHaveLength(3);
  expect(acme?.sources?.[0]?.document).toBe(acmeDoc?.name);
  const acmePrompt = fake
    .received()
    .find((b) => b.messages.at(-1)?.content === requests[0]?.messages[0]?.content)?.messages;
  const context = acmePrompt?.find(
    (m) => m.role === "system" && m.content.startsWith("Context from"),
  )?.content;
  expect(context).toContain(`[source: ${acmeDoc?.name} #`);
  expect(context).toContain(`The ${brand(acmeDoc)} warranty covers`);

  const globex = byId.get("asks-globex-default");
  expect(globex?.sources).toHaveLength(2);
  expect(
    globex?.sources?.every((src) => corpus.documents.findIndex((d) => d.name === src.document) % 2 === 1),
  ).toBe(true);

  expect(byId.get("no-tenant")).toMatchObject({ status: "failed", error: { code: "bad_request" } });
  expect(byId.get("plain")?.sources).toBeUndefined();
  console.log(`sources of asks-acme: ${JSON.stringify(acme?.sources)}`);
  await publisher.close();
  await replies.close();
});
