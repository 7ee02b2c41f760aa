import { randomUUID } from "node:crypto";
import type { BatchStore } from "@chatq/store";
import { BATCH_API_MAX_BYTES, BATCH_API_MAX_REQUESTS, batchLine } from "./batch-lines.ts";
import type { Job } from "./job.ts";

export interface CollectorSettings {
  /** Flush a model's group at this many requests (≤ 50,000, the API's limit per file). */
  maxRequests: number;
  /** … or this many bytes of JSONL (≤ 200 MB). */
  maxBytes: number;
  /** … or when its first request has waited this long. */
  maxWaitMs: number;
  /** How long the batch's first owner holds it before another worker may take it up. */
  leaseMs: number;
  /** From hand-over: after this, unanswered members fail instead of being resubmitted. */
  deadlineMs: number;
}

export interface CollectorDeps {
  store: Pick<BatchStore, "handOver">;
  owner: string;
  /** Retries through a Postgres outage; a stop ends it (the jobs are then redelivered). */
  withStoreRetry: <T>(fn: () => Promise<T>) => Promise<T>;
  now: () => number;
  /** A batch is durably recorded: `recorded` of the `requests` are new members (others were in a batch before). */
  onHandedOver: (batchId: string, model: string, requests: number, recorded: number) => void;
  onError: (err: unknown) => void;
}

interface Waiting {
  job: Job;
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Group {
  model: string;
  waiting: Waiting[];
  bytes: number;
  timer: NodeJS.Timeout;
}

/**
 * Gathers batch-mode requests per model (a batch file holds one model) and records each group as a batch in one
 * Postgres statement: the batch row and its members. From then on the row owns the requests, so `add` resolves
 * and the caller releases their Kafka offsets: a 24 h batch never holds a partition back, and a crash after the
 * commit loses nothing because the runner works from the row, not from Kafka.
 */
export class BatchCollector {
  readonly #s: CollectorSettings;
  readonly #d: CollectorDeps;
  readonly #groups = new Map<string, Group>();
  #pending = 0;
  #stopped = false;

  constructor(settings: CollectorSettings, deps: CollectorDeps) {
    this.#s = {
      ...settings,
      maxRequests: Math.min(settings.maxRequests, BATCH_API_MAX_REQUESTS),
      maxBytes: Math.min(settings.maxBytes, BATCH_API_MAX_BYTES),
    };
    this.#d = deps;
  }

  /** Resolves once the job's batch is recorded (its offset may go); rejects when the worker stops first. */
  add(job: Job): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error("the batch collector is stopped"));
    const bytes = Buffer.byteLength(batchLine(job.request, job.model)) + 1;
    return new Promise((resolve, reject) => {
      let group = this.#groups.get(job.model);
      if (group !== undefined && group.bytes + bytes > this.#s.maxBytes) {
        this.#flush(group);
        group = undefined;
      }
      if (group === undefined) {
        const model = job.model;
        group = {
          model,
          waiting: [],
          bytes: 0,
          timer: setTimeout(() => {
            const g = this.#groups.get(model);
            if (g) this.#flush(g);
          }, this.#s.maxWaitMs),
        };
        this.#groups.set(model, group);
      }
      group.waiting.push({ job, bytes, resolve, reject });
      group.bytes += bytes;
      this.#pending++;
      if (group.waiting.length >= this.#s.maxRequests) this.#flush(group);
    });
  }

  /** Requests held here, not yet recorded (they count against the worker's in-flight limit). */
  pending(): number {
    return this.#pending;
  }

  /** Groups not yet recorded are let go: their offsets stay uncommitted and Kafka redelivers them. */
  stop(): void {
    this.#stopped = true;
    for (const group of this.#groups.values()) {
      clearTimeout(group.timer);
      for (const w of group.waiting) w.reject(new Error("stopping before the batch was recorded"));
      this.#pending -= group.waiting.length;
    }
    this.#groups.clear();
  }

  #flush(group: Group): void {
    clearTimeout(group.timer);
    this.#groups.delete(group.model);
    void this.#record(group);
  }

  async #record(group: Group): Promise<void> {
    const batchId = randomUUID();
    const ids = group.waiting.map((w) => w.job.request.request_id);
    try {
      const recorded = await this.#d.withStoreRetry(() =>
        this.#d.store.handOver(
          {
            batchId,
            model: group.model,
            owner: this.#d.owner,
            leaseMs: this.#s.leaseMs,
            deadlineAt: new Date(this.#d.now() + this.#s.deadlineMs),
            attempt: 1,
          },
          [...new Set(ids)],
        ),
      );
      this.#d.onHandedOver(batchId, group.model, ids.length, recorded.size);
      for (const w of group.waiting) w.resolve();
    } catch (err) {
      this.#d.onError(err);
      for (const w of group.waiting) w.reject(err);
    } finally {
      this.#pending -= group.waiting.length;
    }
  }
}
