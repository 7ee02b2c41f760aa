import type { DecodeLimits, Retrieval } from "@chatq/contracts";
import type { InRecord, RecordProducer, TopicPartitionOffset } from "@chatq/kafka";
import type { ChatClient, EmbeddingClient, RetryPolicy } from "@chatq/llm";
import type { RateLimiter } from "@chatq/ratelimit";
import type { VectorStore } from "@chatq/retrieval";
import type { Store } from "@chatq/store";
import type { Logger, PauseReason } from "@chatq/telemetry";
import type { AnswerDeps } from "./answer-with-retries.ts";
import type { ApiGates } from "./api-gates.ts";
import { Committer } from "./committer.ts";
import { ConsumptionControl } from "./consumption-control.ts";
import { Effects } from "./effects.ts";
import type { EmbedSettings } from "./embed-with-retries.ts";
import type { GuardDeps } from "./guard-request.ts";
import { InFlightRequests } from "./in-flight-requests.ts";
import { type IntakeDeps, intake } from "./intake.ts";
import { type Job, replyTopicOf } from "./job.ts";
import { KeyedScheduler } from "./keyed-scheduler.ts";
import { OffsetTracker } from "./offset-tracker.ts";
import { PartitionLeases } from "./partition-leases.ts";
import { type ContextDeps, processJob, type RoutingDeps } from "./process-job.ts";
import { RecentReplies } from "./recent-replies.ts";
import { isStoreOutage, retryThroughOutage } from "./retry-through-outage.ts";
import { plainRouting } from "./routing-deps.ts";
import { ConversationSummariser, type SummariserSettings } from "./summarise-conversation.ts";
import type { WorkerEvents } from "./worker-events.ts";

/** What the pipeline needs of the Kafka consumer: fetch control and commits (BatchConsumer, or a test's own). */
export interface ConsumerControl {
  pause(): void;
  resume(): void;
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
}

export interface PipelinePorts {
  consumer: ConsumerControl;
  store: Store;
  producer: RecordProducer;
  limiter: RateLimiter;
  client: ChatClient;
  gates: ApiGates;
  events: WorkerEvents;
  log: Logger;
  now: () => number;
  /** Resolves after ms, or early (without throwing) when the signal aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
  /** With retrieval configured: where chunks are, and the embeddings endpoint. */
  retrieval?: { store: VectorStore; embeddings: EmbeddingClient } | undefined;
  /** Routes, prices and budgets; absent: plain models, the shipped prices, no budgets. */
  routing?: RoutingDeps;
  /** Guardrails before and after the API call; absent: off. */
  guard?: GuardDeps | undefined;
}

export interface PipelineSettings {
  topics: { requests: string; replies: string; deadLetter: string };
  decode: DecodeLimits;
  defaultModel: string;
  maxInFlight: number;
  historyMaxMessages: number;
  retry: RetryPolicy;
  timeoutMs: number;
  /** Summaries and retrieval; absent = history trimmed to the whole window, as before either existed. */
  context?: {
    historyWindowShare: number;
    summary: SummariserSettings | undefined;
    retrieval: { embedding: EmbedSettings; tenantDefaults: Readonly<Record<string, Retrieval>> };
  };
}

class Stopping extends Error {
  override readonly name = "Stopping";
}

/**
 * One worker's path for the messages it owns: records in → decoded, admitted, scheduled by conversation →
 * answered under the budget and the API's circuits → effects written in order → offsets committed. State lives
 * in fields and behaviour in named methods (bullmq's Worker, kafkajs's Runner): onRecords, onAssignment, runJob,
 * applyBackpressure, stop. worker.ts builds the ports and wires Kafka to it; tests drive it in-process.
 */
export class Pipeline {
  readonly #p: PipelinePorts;
  readonly #s: PipelineSettings;
  readonly #tracker = new OffsetTracker();
  readonly #leases = new PartitionLeases();
  readonly #recent = new RecentReplies(10_000);
  readonly #inFlight = new InFlightRequests();
  readonly #consumption: ConsumptionControl;
  readonly #committer: Committer;
  readonly #effects: Effects;
  readonly #scheduler: KeyedScheduler<Job>;
  readonly #answerDeps: AnswerDeps;
  readonly #contextDeps: ContextDeps;
  readonly #summariser: ConversationSummariser | undefined;
  readonly #routing: RoutingDeps;
  readonly #intakeDeps: IntakeDeps;
  #intakeChain: Promise<void> = Promise.resolve();
  #intakeQueued = 0;
  #stopping = false;
  #joined = false;

  constructor(ports: PipelinePorts, settings: PipelineSettings) {
    this.#p = ports;
    this.#s = settings;
    const { events, log } = ports;
    this.#consumption = new ConsumptionControl({
      apply: (paused) => this.#applyPause(paused),
      onReason: (reason, on, all) => {
        events.emit("pause_changed", { reason, paused: on, reasons: all });
        log.info(
          { reason, paused: on, reasons: all },
          on ? "consumption paused" : "consumption reason cleared",
        );
      },
    });
    this.#committer = new Committer(
      this.#tracker,
      settings.topics.requests,
      (o) => ports.consumer.commit(o),
      (err) => {
        events.emit("kafka_error", { operation: "commit" });
        log.warn({ err }, "offset commit failed; will retry");
      },
    );
    this.#effects = new Effects({
      store: ports.store,
      producer: ports.producer,
      deadLetterTopic: settings.topics.deadLetter,
      events,
      onDone: (sources) => this.#release(sources),
      onError: (operation, err) => {
        if (operation === "store") events.emit("store_error", { operation: "write" });
        else events.emit("kafka_error", { operation: "produce" });
        log.warn({ err, operation }, "effects write failed; retrying");
      },
      sleep: (ms) => ports.sleep(ms),
    });
    this.#scheduler = new KeyedScheduler<Job>(
      (job) => this.runJob(job),
      settings.maxInFlight,
      () => this.applyBackpressure(),
    );
    this.#answerDeps = {
      client: ports.client,
      limiter: ports.limiter,
      gates: ports.gates,
      audit: (e) => ports.store.audit.append(e),
      events,
      policy: settings.retry,
      timeoutMs: settings.timeoutMs,
      sleep: ports.sleep,
      random: ports.random,
      now: ports.now,
    };
    const context = settings.context;
    if (context?.summary !== undefined) {
      this.#summariser = new ConversationSummariser(context.summary, {
        store: ports.store,
        answer: this.#answerDeps,
        onOutcome: (outcome, fields) => {
          events.emit("summary", { outcome });
          if (outcome === "failed") log.warn(fields, "conversation summary failed");
          else log.info(fields, "conversation summary stored");
        },
      });
    }
    const summariser = this.#summariser;
    this.#contextDeps = {
      historyWindowShare: context?.historyWindowShare ?? 1,
      summarise: summariser && ((id, through, tenant) => summariser.request(id, through, tenant)),
      retrieval:
        ports.retrieval && context
          ? {
              ...ports.retrieval,
              embedding: context.retrieval.embedding,
              tenantDefaults: context.retrieval.tenantDefaults,
            }
          : undefined,
    };
    this.#routing = ports.routing ?? plainRouting();
    this.#intakeDeps = {
      limits: settings.decode,
      defaultModel: settings.defaultModel,
      topics: { replies: settings.topics.replies, deadLetter: settings.topics.deadLetter },
      store: ports.store,
      events,
      withStoreRetry: (fn) => this.#withStoreRetry(fn),
      leaseFor: (partition) => this.#leases.signal(partition),
      pushEffect: (e) => {
        this.#effects.push(e).catch((err) => log.warn({ err }, "message left unfinished"));
      },
      schedule: (job) => this.#schedule(job),
      now: ports.now,
      log: ports.log,
    };
    ports.limiter.onDrain(() => this.applyBackpressure());
    // A closed account gate or an open API circuit holds every call: stop fetching more until it passes.
    events.on("circuit_changed", ({ circuit }) => {
      if (circuit === "account") this.setPaused("auth", ports.gates.account.state() !== "closed");
      else this.setPaused("api_outage", ports.gates.anyModelOpen());
    });
  }

  ownsPartition(partition: number): boolean {
    return this.#leases.owns(partition);
  }

  /** Joined the group and owns its first assignment (for /readyz). */
  joined(): boolean {
    return this.#joined;
  }

  setPaused(reason: PauseReason, on: boolean): void {
    this.#consumption.set(reason, on);
  }

  /** Fetched records, per partition in offset order. Hands them to intake (one batch at a time) and returns. */
  onRecords(records: InRecord[]): void {
    if (this.#stopping) return;
    // An undecodable batch arrives as one record for its whole range: finishing it commits past the range.
    const fresh = records.filter((r) =>
      this.#tracker.track(r.partition, r.offset, r.undecodable?.lastOffset),
    );
    if (fresh.length === 0) return;
    this.#intakeQueued += fresh.length;
    this.applyBackpressure();
    // One batch at a time, in fetch order: a conversation's turns must reach the scheduler in offset order.
    this.#intakeChain = this.#intakeChain
      .then(() => intake(fresh, this.#intakeDeps))
      .catch((err) => this.#p.log.error({ err }, "intake failed; batch left uncommitted"))
      .finally(() => {
        this.#intakeQueued -= fresh.length;
        this.applyBackpressure();
      });
  }

  /**
   * The partitions this member owns after a (re)join. Work of a lost partition is its new owner's now (it re-reads
   * from the last commit): queued work is dropped, and work waiting for budget, a gate or a backoff lets go at once
   * (its lease ends), so neither the API call nor the budget is spent twice. Calls already at the API finish.
   */
  onAssignment(partitions: number[]): void {
    this.#joined = true;
    const lost = this.#leases.assign(partitions);
    this.#tracker.retainOnly(partitions);
    const handedOver = this.#scheduler.dropQueued((job) => job.lease.aborted);
    for (const job of handedOver) this.#inFlight.settle(job.request.request_id, false);
    this.#p.events.emit("assignment_changed", { partitions, lost, handedOver: handedOver.length });
    this.#p.log.info({ partitions, lost, handed_over: handedOver.length }, "partitions assigned");
    // kafkajs forgets pauses when it rebuilds its group after a crash: apply the wanted state on every join.
    this.#applyPause(this.#consumption.isPaused());
    this.#committer.nudge();
  }

  /** One job, from its history to its reply. Never rejects: every end is an outcome or a redelivery. */
  async runJob(job: Job): Promise<void> {
    const id = job.request.request_id;
    let completed = false;
    try {
      const known = this.#recent.get(id);
      if (known !== undefined) {
        await this.#effects.push(this.#republishEffect(job, known));
        completed = true;
        return;
      }
      const { effect, estimatedPromptTokens } = await processJob(job, {
        store: this.#p.store,
        answer: this.#answerDeps,
        context: this.#contextDeps,
        historyMaxMessages: this.#s.historyMaxMessages,
        replyTopic: this.#s.topics.replies,
        withStoreRetry: (fn) => this.#withStoreRetry(fn, job.lease),
        routing: this.#routing,
        guard: this.#p.guard,
      });
      const published = await this.#effects.push(effect);
      completed = true;
      // What actually went out (the stored reply), kept as the very string: a later duplicate gets the same bytes.
      if (published !== undefined) this.#recent.set(id, published);
      const { reply } = effect.outcome;
      this.#p.events.emit("finished", {
        // The model that answered (a route's deployment), not the route name asked for.
        model: effect.outcome.model,
        priority: job.priority,
        reply,
        apiMs: effect.outcome.apiMs,
        originMs: job.originMs,
        estimatedPromptTokens,
      });
      this.#p.log.info(
        {
          request_id: id,
          conversation_id: job.request.conversation_id,
          tenant: job.request.tenant,
          model: job.model,
          status: reply.status,
          attempts: effect.outcome.attempts,
          error_code: reply.error?.code,
          ms: reply.latency_ms,
        },
        "request finished",
      );
    } catch (err) {
      // Only a stop or a rebalance gets here (the job had not reached the API, or its effects could not be
      // written while stopping): the offset stays uncommitted and Kafka gives it to the next owner.
      this.#p.log.info({ request_id: id, reason: (err as Error).name }, "request left for redelivery");
    } finally {
      this.#inFlight.settle(id, completed);
    }
  }

  /**
   * Pauses fetching while this worker holds as much as it may (WORKER_MAX_IN_FLIGHT, counting what intake and
   * the effects writer still hold) or the limiter's queue is full; resumes with some slack, not at the edge.
   */
  applyBackpressure(): void {
    const load = this.#scheduler.size() + this.#intakeQueued + this.#effects.pending();
    this.#p.events.emit("in_flight", { count: this.#scheduler.size() });
    if (load >= this.#s.maxInFlight) this.setPaused("backpressure", true);
    else if (load <= this.#s.maxInFlight * 0.8) this.setPaused("backpressure", false);
    this.setPaused("ratelimit", this.#p.limiter.isSaturated());
  }

  /**
   * Stops fetching; work not yet at the API lets go at once (uncommitted: the next owner redoes it); calls at the
   * API finish until `drainUntil`; then what finished is written, the audit flushed and the offsets committed,
   * each step bounded by `deadlineAt`.
   */
  async stop(drainUntil: number, deadlineAt: number): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.setPaused("shutdown", true);
    const reason = new Stopping("the worker is stopping");
    for (const job of this.#scheduler.stop()) this.#inFlight.settle(job.request.request_id, false);
    this.#leases.endAll(reason);
    this.#p.gates.stop(reason);
    // A summary is never needed to finish a request: one still waiting is dropped (the next trim asks again).
    const summaries = this.#summariser?.stop();
    this.#p.log.info({ in_flight: this.#scheduler.size() }, "stopping: finishing in-flight work");
    const left = (until: number) => Math.max(0, until - this.#p.now());
    await within(this.#intakeChain, left(drainUntil));
    const drained = await this.#waitFor(() => this.#scheduler.size() === 0, drainUntil);
    if (!drained) {
      this.#p.log.warn(
        { left: this.#scheduler.size() },
        "shutdown deadline reached; unfinished work will be redelivered",
      );
    }
    await within(this.#effects.drain(), left(deadlineAt));
    if (summaries) await within(summaries, left(deadlineAt));
    // The audit rows of what finished go before anything that can hang on a dead broker.
    await within(this.#p.store.audit.flush(), left(deadlineAt));
    await within(this.#committer.flush(), left(deadlineAt));
  }

  /** Resolves when no background summary is running (tests). */
  summariesIdle(): Promise<void> {
    return this.#summariser?.idle() ?? Promise.resolve();
  }

  /** Requests in the scheduler (running or queued), for tests and the gauge. */
  size(): number {
    return this.#scheduler.size();
  }

  #schedule(job: Job): void {
    if (job.lease.aborted) return;
    const first = this.#inFlight.claim(job.request.request_id);
    if (first) {
      // The same request twice in flight: one API call, one reply. If the first copy was dropped, this one goes on.
      void first.then((completed) => (completed ? this.#release([job.source]) : this.#schedule(job)));
      return;
    }
    this.#scheduler.push(job.key, job);
  }

  #release(sources: readonly InRecord[]): void {
    for (const s of sources) this.#tracker.finish(s.partition, s.offset);
    this.#committer.nudge();
  }

  #republishEffect(job: Job, reply: string) {
    return {
      kind: "republish" as const,
      source: job.source,
      audit: { event: "reply_republished" as const, requestId: job.request.request_id, at: new Date() },
      reply: { topic: replyTopicOf(job.request, this.#s.topics.replies), key: job.key, value: reply },
    };
  }

  /** An outage is waited out; a refusal (bad data, a bug), a stop or a lost partition ends the wait. */
  #withStoreRetry<T>(fn: () => Promise<T>, lease?: AbortSignal): Promise<T> {
    return retryThroughOutage(fn, {
      onError: (err) => {
        this.#p.events.emit("store_error", { operation: "read" });
        this.#p.log.warn({ err }, "postgres read failed");
      },
      giveUp: (err) => this.#stopping || lease?.aborted === true || !isStoreOutage(err),
      sleep: (ms) => this.#p.sleep(ms, lease),
    });
  }

  // kafkajs throws while its group is being rebuilt (a restart after a crash): never let that escape; the wanted
  // state is applied again on the next join.
  #applyPause(paused: boolean): void {
    try {
      if (paused) this.#p.consumer.pause();
      else this.#p.consumer.resume();
    } catch (err) {
      this.#p.log.warn({ err, paused }, "could not apply pause state yet; will on the next join");
    }
  }

  async #waitFor(cond: () => boolean, until: number): Promise<boolean> {
    while (!cond()) {
      if (this.#p.now() >= until) return false;
      await this.#p.sleep(20);
    }
    return true;
  }
}

/** Waits for the work, but no longer than ms; its failure is not the shutdown's (it was logged where it happened). */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.catch(() => undefined),
    new Promise<void>((r) => {
      timer = setTimeout(r, ms);
    }),
  ]);
  clearTimeout(timer);
}
