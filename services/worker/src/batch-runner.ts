import { randomUUID } from "node:crypto";
import type { BatchClient, BatchStatusReport, LlmError, PriceTable } from "@chatq/llm";
import type { BatchMember, BatchRow, BatchStore } from "@chatq/store";
import type { BatchRequestOutcome } from "@chatq/telemetry";
import { batchLine, type LineResult, parseResultFile } from "./batch-lines.ts";
import {
  BATCH_DEADLINE_EXCEEDED,
  batchOutcomeEffect,
  type MemberEnd,
  nextPollDelayMs,
} from "./batch-outcomes.ts";
import type { Effect } from "./effects.ts";

const FINAL: ReadonlySet<string> = new Set(["completed", "failed", "expired", "cancelled"]);

export interface RunnerSettings {
  owner: string;
  leaseMs: number;
  pollMinMs: number;
  pollMaxMs: number;
  /** How often this worker looks for batches due (its own and ones whose owner's lease ran out). */
  tickMs: number;
  replyTopic: string;
}

export interface RunnerDeps {
  store: BatchStore;
  client: BatchClient;
  /** The worker's effects path: store → publish, the same as synchronous answers. */
  pushEffect: (effect: Extract<Effect, { kind: "outcome" }>) => Promise<unknown>;
  prices: () => PriceTable;
  /** A cost just incurred, for the tenant's budget. */
  charge: (tenant: string, usd: number) => void;
  count: (outcome: BatchRequestOutcome, n: number) => void;
  log: {
    info(obj: object, msg?: string): void;
    warn(obj: object, msg?: string): void;
    error(obj: object, msg?: string): void;
  };
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  now: () => number;
}

/**
 * Works the batches in Postgres: submits collected ones (upload + create), polls submitted ones with backoff, and
 * when OpenAI is done downloads the output and error files and answers every member through the effects path.
 * Exactly one worker acts on a batch at a time: it is claimed with a lease (FOR UPDATE SKIP LOCKED) that the owner
 * renews while it works; a worker that dies stops renewing, and after `leaseMs` another takes the batch up from its
 * recorded state. Members are settled only after their outcome is stored, so a crash mid-harvest re-harvests the
 * rest, and complete()'s one-reply-per-request_id keeps any repeat from answering twice.
 */
export class BatchRunner {
  readonly #s: RunnerSettings;
  readonly #d: RunnerDeps;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(settings: RunnerSettings, deps: RunnerDeps) {
    this.#s = settings;
    this.#d = deps;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Looks for due batches now (a batch was just recorded). */
  wake(): void {
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        const due = await this.#d.store.claimDue(this.#s.owner, this.#s.leaseMs, 10);
        for (const row of due) {
          if (signal.aborted) break;
          await this.#work(row).catch((err: unknown) =>
            this.#d.log.warn({ err, batch_id: row.batchId }, "batch step failed; retried at the next poll"),
          );
        }
        if (due.length === 10) continue;
      } catch (err) {
        this.#d.log.warn({ err }, "could not claim batches; retrying");
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        void this.#d.sleep(this.#s.tickMs, signal).then(resolve);
      });
      this.#wake = undefined;
    }
  }

  async #work(row: BatchRow): Promise<void> {
    if (row.status === "collected") return this.#submit(row);
    if (row.openaiBatchId === null) return this.#finish(row);
    let report: BatchStatusReport;
    try {
      report = await this.#d.client.retrieve(row.openaiBatchId);
    } catch (err) {
      await this.#later(row, row.status, err);
      return;
    }
    if (!FINAL.has(report.status)) {
      await this.#d.store.update(row.batchId, this.#s.owner, {
        status: report.status,
        nextPollInMs: nextPollDelayMs(row.polls, this.#s.pollMinMs, this.#s.pollMaxMs),
      });
      return;
    }
    await this.#d.store.update(row.batchId, this.#s.owner, {
      status: report.status,
      outputFileId: report.outputFileId,
      errorFileId: report.errorFileId,
      error: report.error,
      nextPollInMs: this.#s.leaseMs,
    });
    await this.#harvest(row, report);
  }

  async #submit(row: BatchRow): Promise<void> {
    const members = await this.#d.store.members(row.batchId);
    if (members.length === 0) return this.#finish(row);
    const jsonl = `${members.map((m) => batchLine(m.request, m.model)).join("\n")}\n`;
    try {
      const { batchId, inputFileId } = await this.#d.client.submit(jsonl, { chatq_batch_id: row.batchId });
      await this.#d.store.update(row.batchId, this.#s.owner, {
        status: "validating",
        openaiBatchId: batchId,
        inputFileId,
        submitted: true,
        nextPollInMs: this.#s.pollMinMs,
      });
      this.#d.log.info(
        {
          batch_id: row.batchId,
          openai_batch_id: batchId,
          requests: members.length,
          model: row.model,
          attempt: row.attempt,
        },
        "batch submitted",
      );
    } catch (err) {
      const e = err as LlmError;
      if (e.retryable !== false || e.scope === "account") {
        await this.#later(row, "collected", err);
        return;
      }
      // The API refuses the file itself (not an outage): its requests fail with the reason, once.
      await this.#answer(row, members, () => ({
        kind: "failed",
        code: e.code,
        message: `the Batch API refused the batch: ${e.message}`,
        retryable: false,
      }));
      await this.#finish(row);
    }
  }

  /** Every unsettled member: its answer or error from the files, or resubmitted / failed past the deadline. */
  async #harvest(row: BatchRow, report: BatchStatusReport): Promise<void> {
    const results = new Map<string, LineResult>();
    for (const fileId of [report.outputFileId, report.errorFileId]) {
      if (fileId === null) continue;
      for (const r of parseResultFile(await this.#d.client.fileText(fileId))) results.set(r.customId, r);
    }
    const members = await this.#d.store.members(row.batchId);
    const leftovers: BatchMember[] = [];
    const ends = new Map<string, MemberEnd>();
    for (const m of members) {
      const r = results.get(m.requestId);
      if (r?.kind === "answer") ends.set(m.requestId, { kind: "answer", answer: r.answer });
      else if (r?.kind === "error")
        ends.set(m.requestId, { kind: "failed", code: r.code, message: r.message, retryable: false });
      else leftovers.push(m);
    }
    await this.#answer(
      row,
      members.filter((m) => ends.has(m.requestId)),
      (m) => ends.get(m.requestId) as MemberEnd,
    );
    if (leftovers.length > 0) await this.#resubmitOrFail(row, report, leftovers);
    await this.#finish(row);
    this.#d.log.info(
      {
        batch_id: row.batchId,
        openai_batch_id: row.openaiBatchId,
        status: report.status,
        answered: ends.size,
        leftovers: leftovers.length,
        error: report.error,
      },
      "batch harvested",
    );
  }

  async #resubmitOrFail(row: BatchRow, report: BatchStatusReport, leftovers: BatchMember[]): Promise<void> {
    const ids = leftovers.map((m) => m.requestId);
    if (this.#d.now() < row.deadlineAt.getTime()) {
      // A batch refused for the enqueued-token limit would be refused again at once: give the queue time.
      const startInMs = report.error?.includes("token_limit_exceeded") ? this.#s.pollMaxMs : 0;
      const batchId = randomUUID();
      await this.#d.store.moveTo(
        {
          batchId,
          model: row.model,
          owner: this.#s.owner,
          leaseMs: 0,
          deadlineAt: row.deadlineAt,
          attempt: row.attempt + 1,
          startInMs,
        },
        ids,
      );
      this.#d.count("resubmitted", ids.length);
      this.#d.log.warn(
        {
          batch_id: row.batchId,
          resubmitted_as: batchId,
          requests: ids.length,
          status: report.status,
          error: report.error,
        },
        "batch left requests unanswered; resubmitted",
      );
      return;
    }
    const why = report.error ?? `the batch ended ${report.status}`;
    await this.#answer(row, leftovers, () => ({
      kind: "failed",
      code: BATCH_DEADLINE_EXCEEDED,
      message: `not answered by the Batch API before the deadline (${row.deadlineAt.toISOString()}); last: ${why}`,
      retryable: true,
    }));
    this.#d.count("deadline_exceeded", leftovers.length);
  }

  /** Stores and publishes each member's end (chunked, renewing the lease), then settles them. */
  async #answer(row: BatchRow, members: BatchMember[], endOf: (m: BatchMember) => MemberEnd): Promise<void> {
    const ctx = {
      prices: this.#d.prices(),
      replyTopic: this.#s.replyTopic,
      attempt: row.attempt,
      finishedAt: new Date(),
    };
    for (let i = 0; i < members.length; i += 1000) {
      if (!(await this.#d.store.renew(row.batchId, this.#s.owner, this.#s.leaseMs))) {
        throw new Error("lost the batch's lease; its new owner goes on");
      }
      const chunk = members.slice(i, i + 1000);
      const effects = chunk.map((m) => batchOutcomeEffect(m, endOf(m), ctx));
      await Promise.all(effects.map((e) => this.#d.pushEffect(e)));
      for (const e of effects) {
        const { costUsd, request, reply } = e.outcome;
        if (costUsd !== undefined && request.tenant !== undefined) this.#d.charge(request.tenant, costUsd);
        this.#d.count(reply.status === "completed" ? "answered" : "failed", 1);
      }
      await this.#d.store.settle(chunk.map((m) => m.requestId));
    }
  }

  async #finish(row: BatchRow): Promise<void> {
    await this.#d.store.update(row.batchId, this.#s.owner, { status: "done", nextPollInMs: 0 });
  }

  /** A step that failed for a passing reason: try again after the poll backoff. */
  async #later(row: BatchRow, status: BatchRow["status"], err: unknown): Promise<void> {
    this.#d.log.warn({ err, batch_id: row.batchId }, "Batch API call failed; retrying later");
    await this.#d.store.update(row.batchId, this.#s.owner, {
      status,
      error: err instanceof Error ? err.message.slice(0, 500) : String(err),
      nextPollInMs: nextPollDelayMs(row.polls, this.#s.pollMinMs, this.#s.pollMaxMs),
    });
  }
}
