import { randomUUID } from "node:crypto";
import type { RecordProducer } from "@chatq/kafka";
import { type ChatClientOptions, createBatchClient, type PriceTable } from "@chatq/llm";
import {
  type BatchStore,
  type ConnectionOptions,
  createBatchStore,
  type Store,
  type StoreEncryption,
} from "@chatq/store";
import { createBatchMetrics, type Logger, type Registry } from "@chatq/telemetry";
import { BatchCollector } from "./batch-collector.ts";
import type { BatchConfig } from "./batch-config.ts";
import { batchApiEnabled, goesToBatchApi, isBatchWork } from "./batch-mode.ts";
import { BatchRunner } from "./batch-runner.ts";
import { Effects } from "./effects.ts";
import type { Job } from "./job.ts";
import { isStoreOutage, retryThroughOutage } from "./retry-through-outage.ts";
import type { WorkerEvents } from "./worker-events.ts";

/** What the pipeline sees of the Batch API path: which jobs it takes, and their hand-over. */
export interface BatchHandoff {
  /** Batch work (batch priority, or a batch topic): the path decides where it goes. */
  takes(job: Job): boolean;
  /**
   * `batched` once the job's batch is durably recorded (its offset may be committed); `sync` when the job is to
   * be answered synchronously — never one that a batch already owns (a redelivery after a crash, or `auto` that
   * chose the Batch API before): that one is `batched`, and its batch answers it.
   */
  handOver(job: Job): Promise<"batched" | "sync">;
  pending(): number;
}

export interface BatchPath extends BatchHandoff {
  stop(): Promise<void>;
}

export interface BatchPathDeps {
  config: BatchConfig;
  /** With the store's encryption: batch files are built from the stored (sealed) requests. */
  database: ConnectionOptions & { encryption?: StoreEncryption | undefined };
  store: Store;
  producer: RecordProducer;
  topics: { replies: string; deadLetter: string };
  api: ChatClientOptions;
  prices: () => PriceTable;
  charge: (tenant: string, usd: number) => void;
  /** The synchronous budget has a queue (for batch_mode auto). */
  syncBusy: () => boolean;
  events: WorkerEvents;
  log: Logger;
  registry: Registry;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** This worker's name as a batch owner (unique per process). */
  owner?: string;
  /**
   * Guardrails are on: batch lines would reach the API unscreened (the batch path does not run them yet), so no
   * new work goes to the Batch API; open batches are still finished.
   */
  guardrailsOn?: boolean;
}

/**
 * Builds the collector and the runner when some batch_mode is on, or when batches are still open (then only to
 * finish them); undefined otherwise (the default: every request goes the synchronous way, one query at start). Batch replies go through an Effects of their own: the
 * same store → publish order and the same one-reply-per-request_id, but they release no Kafka offsets (theirs
 * were committed when the batch was recorded).
 */
export async function startBatchPath(d: BatchPathDeps): Promise<BatchPath | undefined> {
  const { config } = d;
  const wanted = batchApiEnabled(config.modes);
  const enabled = wanted && d.guardrailsOn !== true;
  if (wanted && !enabled) {
    d.log.warn({}, "batch_mode is set but guardrails are on: batch work is answered synchronously, screened");
  }
  const batches: BatchStore = createBatchStore({
    ...d.database,
    applicationName: "chatq-batches",
    onError: (err) => d.log.warn({ err }, "batch store: postgres error"),
  });
  // Every mode back at sync: new batch work goes the synchronous way, but batches still open are finished here,
  // else their requests (whose offsets are committed) would wait for good.
  const open = enabled
    ? true
    : await batches.anyOpen().catch((err: unknown) => {
        d.log.warn(
          { err },
          "cannot tell whether batches are open (migration 0007 not applied?); none assumed",
        );
        return false;
      });
  if (!open) {
    await batches.close();
    return undefined;
  }
  const owner = d.owner ?? `worker-${randomUUID()}`;
  const metrics = createBatchMetrics(d.registry);
  const effects = new Effects({
    store: d.store,
    producer: d.producer,
    deadLetterTopic: d.topics.deadLetter,
    events: d.events,
    onDone: () => {},
    onError: (operation, err) => d.log.warn({ err, operation }, "batch effects write failed; retrying"),
    sleep: (ms) => d.sleep(ms),
  });
  const stopping = new AbortController();
  const runner = new BatchRunner(
    {
      owner,
      leaseMs: config.leaseMs,
      pollMinMs: config.pollMinMs,
      pollMaxMs: config.pollMaxMs,
      tickMs: Math.min(config.pollMinMs, config.leaseMs / 2, 5_000),
      replyTopic: d.topics.replies,
    },
    {
      store: batches,
      client: createBatchClient(d.api),
      pushEffect: (e) => effects.push(e),
      prices: d.prices,
      charge: d.charge,
      count: (outcome, n) => metrics.requests.inc({ outcome }, n),
      log: d.log,
      sleep: d.sleep,
      now: Date.now,
    },
  );
  const collector = new BatchCollector(
    {
      maxRequests: config.maxRequests,
      maxBytes: config.maxBytes,
      maxWaitMs: config.maxWaitMs,
      leaseMs: 0,
      deadlineMs: config.deadlineMs,
    },
    {
      store: batches,
      owner,
      withStoreRetry: (fn) =>
        retryThroughOutage(fn, {
          onError: (err) => d.log.warn({ err }, "batch hand-over: postgres unavailable; retrying"),
          giveUp: (err) => stopping.signal.aborted || !isStoreOutage(err),
          sleep: (ms) => d.sleep(ms, stopping.signal),
        }),
      now: Date.now,
      onHandedOver: (batchId, model, requests, recorded) => {
        metrics.requests.inc({ outcome: "handed_over" }, recorded);
        d.log.info({ batch_id: batchId, model, requests, recorded }, "requests handed to a batch");
        runner.wake();
      },
      onError: (err) => d.log.warn({ err }, "batch hand-over failed; the requests stay uncommitted"),
    },
  );
  const gauges = setInterval(() => {
    batches
      .figures()
      .then((f) => {
        metrics.batches.reset();
        for (const [state, n] of Object.entries(f.byState)) metrics.batches.set({ state }, n);
        metrics.requestsWaiting.set(f.requestsWaiting);
        metrics.oldestAge.set(f.oldestOpenSeconds);
      })
      .catch((err: unknown) => d.log.warn({ err }, "batch figures unavailable"));
  }, 5_000);
  gauges.unref();
  runner.start();
  d.log.info(
    { owner, modes: config.modes },
    enabled ? "Batch API path on" : "every batch_mode is sync: finishing the open batches only",
  );
  const owned = new MembershipCheck((ids) => batches.membersAmong(ids));
  return {
    // With every mode at sync, batch work is still checked against the open batches (a member is theirs).
    takes: (job) => isBatchWork(job, config.modes.topics),
    async handOver(job) {
      if (enabled && goesToBatchApi(job, config.modes, d.syncBusy)) {
        await collector.add(job);
        return "batched";
      }
      return (await owned.has(job.request.request_id)) ? "batched" : "sync";
    },
    pending: () => collector.pending(),
    async stop() {
      stopping.abort();
      clearInterval(gauges);
      collector.stop();
      await runner.stop();
      await effects.drain();
      await batches.close();
    },
  };
}

/** Asks Postgres which ids belong to a batch, many at once: jobs arriving within a few ms share one query. */
class MembershipCheck {
  readonly #query: (ids: string[]) => Promise<Set<string>>;
  #waiting = new Map<string, ((owned: boolean) => void)[]>();
  #timer: NodeJS.Timeout | undefined;

  constructor(query: (ids: string[]) => Promise<Set<string>>) {
    this.#query = query;
  }

  has(id: string): Promise<boolean> {
    return new Promise((resolve) => {
      const list = this.#waiting.get(id) ?? [];
      list.push(resolve);
      this.#waiting.set(id, list);
      this.#timer ??= setTimeout(() => void this.#flush(), 5);
    });
  }

  async #flush(): Promise<void> {
    const waiting = this.#waiting;
    this.#waiting = new Map();
    this.#timer = undefined;
    let owned: Set<string>;
    try {
      owned = await this.#query([...waiting.keys()]);
    } catch {
      // Postgres away: the synchronous path waits the outage out itself; at worst a batch member gets a second
      // API call, never a second stored reply (one per request_id).
      owned = new Set();
    }
    for (const [id, list] of waiting) for (const r of list) r(owned.has(id));
  }
}
