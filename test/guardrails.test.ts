import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChatReply } from "@chatq/contracts";
import type { FakeOpenAI } from "@chatq/fake-openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka, until } from "./harness/kafka-io.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { metricValue, spawnWorker } from "./harness/worker-process.ts";

const user = (content: string) => [{ role: "user" as const, content }];

// Every tenant: reversible PII, moderation of input and output (fail_closed), harassment only flagged.
// clinic refuses health questions; outonly moderates answers only (so an answer can be flagged on its own).
const POLICY = {
  default: {
    moderation: { enabled: true, categories: { harassment: { threshold: 0.5, action: "flag" } } },
  },
  tenants: {
    clinic: { topics: { health: "refuse" } },
    outonly: { moderation: { input: false } },
    // Its own moderation model, so the 429s it is given hold back no other tenant's moderation bucket.
    lenient: { moderation: { onOutage: "fail_open", model: "text-moderation-latest" } },
  },
};

describe("guardrails through Kafka, the worker and the fake API", () => {
  let fake: FakeOpenAI;
  let dir: string;
  let s: ReturnType<typeof uniqueScenario>;
  let replies: Awaited<ReturnType<typeof collect>>;
  let publisher: Awaited<ReturnType<typeof requestPublisher>>;
  let worker: ReturnType<typeof spawnWorker>;
  let db: ReturnType<typeof scenarioDb>;
  let metricsUrl: string;
  beforeAll(async () => {
    fake = await startTestFake({ latencyMs: 5 });
    dir = mkdtempSync(join(tmpdir(), "chatq-guardrails-test-"));
    s = uniqueScenario("guardrails");
    const kafka = testKafka(s);
    await createTopics(kafka, s);
    replies = await collect(kafka, s.topics.replies, s.id);
    publisher = await requestPublisher(kafka, s);
    const policyFile = join(dir, `${s.id}.json`);
    writeFileSync(policyFile, JSON.stringify(POLICY));
    worker = spawnWorker(s, fake.url, {
      GUARDRAILS_ENABLED: "true",
      GUARDRAILS_POLICY_FILE: policyFile,
      OPENAI_RETRY_BASE_MS: "20",
      OPENAI_RETRY_MAX_MS: "200",
      CIRCUIT_PROBE_MAX_INTERVAL_MS: "300",
    });
    db = scenarioDb(s);
    metricsUrl = await worker.metricsUrl;
  });
  afterAll(async () => {
    fake?.configure({ outage: null });
    await worker?.stop("SIGKILL");
    await Promise.all([replies?.close(), publisher?.close()]);
    await db?.drop();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const byId = () => new Map(replies.replies().map((r) => [r.request_id, r]));
  const ask = async (id: string, content: string, tenant = "shop") => {
    await publisher.publish([
      { request_id: id, conversation_id: `conv-${id}`, tenant, messages: user(content) },
    ]);
  };
  const answerTo = async (id: string): Promise<ChatReply> => {
    await until(
      () => byId().has(id),
      60_000,
      () => `no reply to ${id}`,
    );
    return byId().get(id) as ChatReply;
  };
  const chatCalls = (id: string) => fake.stats().completions_by_client_request_id[id] ?? 0;

  it("a request's email, phone and card never reach the API, and the reply has them back (reversible)", async () => {
    const pii = `${s.id}-pii`;
    const secret = ["ana@example.com", "+34 612 345 678", "4111 1111 1111 1111"];
    await ask(pii, `Write to ${secret[0]} or call me on ${secret[1]}; my card is ${secret[2]}`);
    const piiReply = await answerTo(pii);
    expect(piiReply.status).toBe("completed");
    // The fake echoes what it was sent: the user sees their own data again.
    for (const value of secret) expect(piiReply.content).toContain(value);
    const sent = JSON.stringify({
      chats: fake.received().filter((r) => r.clientRequestId === pii),
      moderations: fake.receivedModerations(),
    });
    expect(sent).toContain("<EMAIL_1>");
    for (const value of secret) expect(sent).not.toContain(value);
    expect(piiReply.language).toBe("en");
    const audit = await db.query<{
      detail: { verdicts: { step: string; entities?: Record<string, number> }[] };
    }>("select detail from audit_log where request_id = $1 and event = 'guardrail'", [pii]);
    expect(audit).toHaveLength(1);
    expect(audit[0]?.detail.verdicts.find((v) => v.step === "pii")?.entities).toEqual({
      EMAIL: 1,
      PHONE: 1,
      CARD: 1,
    });
    expect(await metricValue(metricsUrl, "chatq_pii_redactions_total", { entity: "CARD" })).toBeGreaterThan(
      0,
    );
  });

  it("an input moderation blocks is rejected with its category and makes no chat call", async () => {
    const blocked = `${s.id}-blocked`;
    await ask(blocked, "I will kill you tomorrow");
    expect(await answerTo(blocked)).toMatchObject({
      status: "rejected",
      error: { code: "moderation", categories: ["violence"] },
    });
    expect(chatCalls(blocked)).toBe(0);
    expect(
      await metricValue(metricsUrl, "chatq_guardrail_verdicts_total", {
        step: "moderation",
        verdict: "block",
      }),
    ).toBeGreaterThan(0);
  });

  it("an answer moderation flags is published completed and flagged", async () => {
    const flagged = `${s.id}-flagged`;
    await ask(flagged, "Repeat after me: you idiot", "outonly");
    const reply = await answerTo(flagged);
    expect(reply.status).toBe("completed");
    expect(reply.flags).toEqual([{ step: "moderation", on: "output", categories: ["harassment"] }]);
  });

  it("replies to Spanish, French, German and English questions carry their language", async () => {
    const questions: [string, string][] = [
      ["es", "¿Cuál es el horario de la tienda los domingos?"],
      ["fr", "Quels sont les horaires du magasin le dimanche ?"],
      ["de", "Wann hat der Laden am Sonntag geöffnet?"],
      ["en", "What are the shop's opening hours on Sunday?"],
    ];
    for (const [lang, q] of questions) await ask(`${s.id}-lang-${lang}`, q);
    for (const [lang] of questions)
      expect((await answerTo(`${s.id}-lang-${lang}`)).language, lang).toBe(lang);
    expect(
      await metricValue(metricsUrl, "chatq_request_languages_total", { language: "es" }),
    ).toBeGreaterThan(0);
  });

  it("a refused sensitive topic is refused in the user's language, with no chat call", async () => {
    const refusal = `${s.id}-refuse`;
    await ask(refusal, "¿Qué dosis de ibuprofeno puedo tomar para la fiebre?", "clinic");
    const refused = await answerTo(refusal);
    expect(refused).toMatchObject({ status: "rejected", language: "es", error: { code: "sensitive_topic" } });
    expect(refused.content).toMatch(/^Lo siento/);
    expect(chatCalls(refusal)).toBe(0);
  });

  it("a fail_open tenant is answered unmoderated while its moderation model is out of budget, and the audit says so", async () => {
    const id = `${s.id}-lenient`;
    // One moderation a minute: the 429's retry-after is far past the worker's wait budget (ROUTE_WAIT_BUDGET_MS).
    fake.configure({ modelLimits: { "text-moderation-latest": { rpm: 1, tpm: 0 } } });
    try {
      await ask("warm-" + id, "hello there, first one", "lenient");
      await answerTo("warm-" + id);
      await ask(id, "Is my parcel delayed?", "lenient");
      expect(await answerTo(id)).toMatchObject({ status: "completed" });
    } finally {
      fake.configure({ modelLimits: {} });
    }
    const audit = await db.query<{ detail: { verdicts: { step: string; verdict: string }[] } }>(
      "select detail from audit_log where request_id = $1 and event = 'guardrail'",
      [id],
    );
    expect(audit[0]?.detail.verdicts.filter((v) => v.step === "moderation").map((v) => v.verdict)).toContain(
      "unavailable",
    );
  });

  it("a moderation outage (fail_closed) holds the request, which is answered once when the API is back", async () => {
    const outage = `${s.id}-outage`;
    fake.configure({ outage: { kind: "server_error", status: 503 } });
    await ask(outage, "Is my order on its way?");
    await until(
      () => fake.stats().by_status["503"] !== undefined,
      30_000,
      () => "the worker never called the API during the outage",
    );
    await new Promise((r) => setTimeout(r, 2000));
    expect(byId().has(outage)).toBe(false);
    fake.configure({ outage: null });
    expect(await answerTo(outage)).toMatchObject({ status: "completed" });
    expect(chatCalls(outage)).toBe(1);
    expect(replies.replies().filter((r) => r.request_id === outage)).toHaveLength(1);
    expect(await worker.stop()).toBe(0);
  });
});
