import { DEAD_LETTER_CODES, DLQ_HEADERS } from "@chatq/contracts";
import { type FakeOpenAI, startFakeOpenAI } from "@chatq/fake-openai";
import type { Admin } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CorpusItem, countsByCategory, hostileCorpus } from "./fuzz/hostile-corpus.ts";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka } from "./harness/kafka-io.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { getJson, metricValue, spawnWorker } from "./harness/worker-process.ts";

// The whole hostile corpus through a real worker process: what a user of chatq checks after a bad day.
const SEED = 20_240_601;
const PARTITIONS = 6;
/** Kafka refuses a produce request over 1 MiB per partition: send in slices well below it. */
const SLICE_BYTES = 700 * 1024;
const ITEM_HEADER = "fuzz-item";

describe("the worker under a hostile corpus", () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: "sk-chatq-test" });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it("dead-letters every bad value with its reason and bytes, answers every good one once, stays up, and commits every partition to its end", async () => {
    const s = uniqueScenario("fuzz");
    const corpus = hostileCorpus({ seed: SEED, idPrefix: s.id });
    const bad = corpus.filter((i) => i.expect.outcome === "dead_lettered");
    const goodIds = new Set(
      corpus.flatMap((i) => (i.expect.outcome === "answered" ? [i.expect.requestId] : [])),
    );
    console.log(
      `[fuzz] ${corpus.length} values (${bad.length} bad, ${goodIds.size} good requests): ${JSON.stringify(countsByCategory(corpus))}`,
    );

    const kafka = testKafka(s);
    await createTopics(kafka, s, PARTITIONS);
    const dlq = await collect(kafka, s.topics.deadLetter, s.id);
    const publisher = await requestPublisher(kafka, s);
    const admin = kafka.admin();
    await admin.connect();
    const worker = spawnWorker(s, fake.url, { TOPIC_PARTITIONS: String(PARTITIONS) });
    let exitedEarly: number | null | undefined;
    void worker.exited.then((code) => {
      exitedEarly = code;
    });
    const db = scenarioDb(s);
    try {
      const metricsUrl = await worker.metricsUrl;
      const started = Date.now();
      // Published while the worker consumes, in slices, each value tagged with its index (the DLQ keeps headers).
      for (const slice of slices(corpus)) {
        await publisher.publishRaw(
          slice.map((i) => ({ key: i.key, value: i.value, headers: { [ITEM_HEADER]: String(i.index) } })),
        );
      }

      // Done when the worker's group has committed every partition to its end: nothing held back anywhere.
      const ends = await endOffsets(admin, s.topics.requests);
      await until(
        async () => sameOffsets(await committedOffsets(admin, s.groupId, s.topics.requests), ends),
        150_000,
        async () =>
          `committed ${JSON.stringify(await committedOffsets(admin, s.groupId, s.topics.requests))}, ends ${JSON.stringify(ends)}`,
      );
      console.log(
        `[fuzz] published and every partition committed to its end in ${(Date.now() - started) / 1000} s`,
      );
      await dlq.waitFor(bad.length, 60_000);

      // Every bad value is on the DLQ once, with its reason and its original bytes.
      const byItem = new Map<number, (typeof dlq.seen)[number][]>();
      for (const m of dlq.seen) {
        const index = Number(m.headers[ITEM_HEADER]);
        byItem.set(index, [...(byItem.get(index) ?? []), m]);
      }
      expect(dlq.seen.length).toBe(bad.length);
      for (const item of bad) {
        const label = `#${item.index} ${item.category}`;
        const copies = byItem.get(item.index) ?? [];
        expect(copies.length, label).toBe(1);
        const m = copies[0];
        const code = m?.headers[DLQ_HEADERS.errorCode];
        expect(DEAD_LETTER_CODES as readonly (string | undefined)[], label).toContain(code);
        if (item.expect.outcome === "dead_lettered" && item.expect.code !== undefined) {
          expect(code, label).toBe(item.expect.code);
        }
        expect(m?.headers[DLQ_HEADERS.errorMessage]?.length, label).toBeGreaterThan(0);
        expect(
          Buffer.compare(m?.value ?? Buffer.alloc(0), item.value ?? Buffer.alloc(0)),
          `${label} bytes`,
        ).toBe(0);
      }

      // Every good request is answered, completed, exactly once; each bad one with a request_id was told why.
      const rows = await db.query<{ request_id: string; status: string; error_code: string | null }>(
        "select request_id, status, error_code from replies",
      );
      const completed = rows.filter((r) => r.status === "completed").map((r) => r.request_id);
      expect(completed.length).toBe(new Set(completed).size);
      expect(new Set(completed)).toEqual(goodIds);
      const rejected = Object.fromEntries(
        rows.filter((r) => r.status === "rejected").map((r) => [r.request_id, r.error_code]),
      );
      const told = Object.fromEntries(
        bad.flatMap((i) =>
          i.expect.outcome === "dead_lettered" && i.expect.requestId !== undefined
            ? [[i.expect.requestId, i.expect.code]]
            : [],
        ),
      );
      expect(rejected).toEqual(told);
      expect(rows.filter((r) => r.status === "failed")).toEqual([]);

      const retried = {
        produce: await metricValue(metricsUrl, "chatq_kafka_errors_total", { operation: "produce" }),
        postgres: await metricValue(metricsUrl, "chatq_postgres_errors_total"),
      };
      console.log(`[fuzz] errors retried on the way: ${JSON.stringify(retried)}`);
      // Counted as it happened, and nothing logged a held batch.
      expect(await metricValue(metricsUrl, "chatq_dead_letters_total")).toBe(bad.length);
      const stuck = worker.logs.filter(
        (l) => l.msg === "intake failed; batch left uncommitted" || l.msg === "message left unfinished",
      );
      expect(stuck).toEqual([]);

      // Alive all along, healthy now, and it stops cleanly.
      expect(exitedEarly).toBeUndefined();
      expect((await getJson(`${metricsUrl}/healthz`)).status).toBe(200);
      expect(await worker.stop()).toBe(0);
    } finally {
      await worker.stop("SIGKILL");
      await Promise.all([dlq.close(), publisher.close(), admin.disconnect()]);
      await db.drop();
    }
  });
});

/** The corpus in publish order, cut into produce requests that stay under Kafka's size limit. */
function* slices(corpus: readonly CorpusItem[]): Generator<CorpusItem[]> {
  let slice: CorpusItem[] = [];
  let bytes = 0;
  for (const item of corpus) {
    const size = item.value?.length ?? 0;
    if (slice.length > 0 && (bytes + size > SLICE_BYTES || slice.length >= 500)) {
      yield slice;
      slice = [];
      bytes = 0;
    }
    slice.push(item);
    bytes += size;
  }
  if (slice.length > 0) yield slice;
}

type Offsets = Record<number, string>;

async function endOffsets(admin: Admin, topic: string): Promise<Offsets> {
  return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
}

async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Offsets> {
  const [forTopic] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries((forTopic?.partitions ?? []).map((p) => [p.partition, p.offset]));
}

function sameOffsets(a: Offsets, b: Offsets): boolean {
  const keys = Object.keys(b);
  return keys.length === Object.keys(a).length && keys.every((k) => a[Number(k)] === b[Number(k)]);
}

async function until(
  done: () => Promise<boolean>,
  timeoutMs: number,
  why: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(await why());
    await new Promise((r) => setTimeout(r, 250));
  }
}
