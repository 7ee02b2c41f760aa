import { setMaxListeners } from "node:events";
import { setTimeout as delay } from "node:timers/promises";
import type { ChatReply } from "@chatq/contracts";
import {
  type BatchConsumer,
  createBatchConsumer,
  createKafka,
  createRecordProducer,
  ensureTopics,
  type InRecord,
  type Kafka,
  type RecordProducer,
} from "@chatq/kafka";
import { createChatClient } from "@chatq/llm";
import { createRateLimiter, type RateLimiter } from "@chatq/ratelimit";
import { createStore, migrate, type Store } from "@chatq/store";
import {
  type ChatqMetrics,
  type Logger,
  type PauseReason,
  primeSeries,
  startTelemetryServer,
  type TelemetryServer,
} from "@chatq/telemetry";
import type { AnswerDeps } from "./answer-with-retries.ts";
import { AuthGate } from "./auth-gate.ts";
import { Committer } from "./committer.ts";
import type { WorkerConfig } from "./config.ts";
import { ConsumptionControl } from "./consumption-control.ts";
import { Effects } from "./effects.ts";
import { InFlightRequests } from "./in-flight-requests.ts";
import { intake } from "./intake.ts";
import { type Job, replyTopicOf } from "./job.ts";
import { KeyedScheduler } from "./keyed-scheduler.ts";
import { startLagMonitor } from "./lag-monitor.ts";
import { OffsetTracker } from "./offset-tracker.ts";
import { PartitionLeases } from "./partition-leases.ts";
import { processJob } from "./process-job.ts";
import { RecentReplies } from "./recent-replies.ts";
import { isPermanentStoreError, retryThroughOutage } from "./retry-through-outage.ts";

export interface RunningWorker {
  /** Stops fetching, finishes in-flight work within the deadline, commits, disconnects. */
  stop(): Promise<void>;
  /** Resolves on a failure the worker cannot recover from (kafkajs gave up); main exits non-zero. */
  fatal: Promise<Error>;
  metricsPort: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  delay(ms, undefined, signal ? { signal } : {}).catch(() => undefined) as Promise<void>;
const now = () => performance.now();

/** Builds the parts in dependency order, starts them, and returns how to stop them in the reverse order. */
export async function startWorker(
  config: WorkerConfig,
  log: Logger,
  metrics: ChatqMetrics,
): Promise<RunningWorker> {
  const storeOptions = {
    databaseUrl: config.database.url,
    poolSize: config.database.poolSize,
    applicationName: config.kafka.clientId,
    ...(config.database.schema !== undefined && { schema: config.database.schema }),
  };
  if (config.database.migrateOnStart) {
    const { applied } = await migrate(storeOptions);
    if (applied.length > 0) log.info({ applied }, "database migrated");
  }
  const store: Store = await createStore({
    ...storeOptions,
    onError: (err) => {
      metrics.postgresErrors.inc({ operation: "background" });
      log.warn({ err, operation: err.operation }, "postgres error");
    },
  });

  const kafka: Kafka = createKafka({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, log });
  if (config.topics.create) {
    const created = await ensureTopics(kafka, [
      { name: config.topics.requests, partitions: config.topics.partitions },
      { name: config.topics.replies, partitions: config.topics.partitions },
      { name: config.topics.deadLetter, partitions: Math.max(1, Math.ceil(config.topics.partitions / 4)) },
    ]);
    if (created.length > 0) log.info({ topics: created }, "topics created");
  }
  const producer: RecordProducer = await createRecordProducer(kafka);

  const limiter: RateLimiter = await createRateLimiter({
    limits: config.rateLimit.limits,
    burstSliceMs: config.rateLimit.burstSliceMs,
    maxQueued: config.rateLimit.maxQueued,
    onError: (err) => log.warn({ err }, "rate limiter: shared budget call failed"),
    ...(config.redisUrl !== undefined && {
      redis: { url: config.redisUrl, keyPrefix: config.rateLimit.keyPrefix },
    }),
  });
  metrics.inFlightLimit.set(config.worker.maxInFlight);
  // The models this worker knows it serves: their series exist (at 0) from the start, so rate() and ratios work.
  const knownModels = [
    ...new Set([
      config.openai.defaultModel,
      ...Object.keys(config.rateLimit.limits.perModel),
      ...config.openai.allowedModels,
    ]),
  ];
  primeSeries(metrics, { models: knownModels, topics: [config.topics.requests] });
  for (const model of knownModels) {
    const l = config.rateLimit.limits.perModel[model] ?? config.rateLimit.limits.default;
    metrics.ratelimitLimit.set({ model, kind: "requests" }, l.rpm);
    metrics.ratelimitLimit.set({ model, kind: "tokens" }, l.tpm);
  }

  const client = createChatClient({
    apiKey: config.openai.apiKey,
    baseURL: config.openai.baseURL,
    organization: config.openai.organization,
  });

  // --- consumption control: paused while any reason holds ---
  let consumer: BatchConsumer | undefined;
  const consumption = new ConsumptionControl({
    apply: (paused) => applyPause(paused),
    onReason: (reason, on, all) => {
      metrics.consumptionPaused.set({ reason }, on ? 1 : 0);
      log.info(
        { reason, paused: on, reasons: all },
        on ? "consumption paused" : "consumption reason cleared",
      );
    },
  });
  const setPaused = (reason: PauseReason, on: boolean) => consumption.set(reason, on);
  // kafkajs throws while its group is being rebuilt (a restart after a crash), and a restart forgets pauses:
  // never let that escape, and apply the wanted state again on every (re)join.
  function applyPause(paused: boolean): void {
    try {
      if (paused) consumer?.pause();
      else consumer?.resume();
    } catch (err) {
      log.warn({ err, paused }, "could not apply pause state yet; will on the next join");
    }
  }

  const gate = new AuthGate({
    probe: () => client.probe(5000),
    maxIntervalMs: config.worker.authProbeMaxIntervalMs,
    sleep,
    onChange: (open, error) => {
      if (!open)
        log.error(
          { error_code: error?.code, status: error?.status },
          "API rejects the account; pausing and probing",
        );
      else log.info("API accepts the account again; resuming");
      setPaused("auth", !open);
    },
  });

  const tracker = new OffsetTracker();
  let committer: Committer | undefined;
  const release = (sources: readonly InRecord[]) => {
    for (const s of sources) tracker.finish(s.partition, s.offset);
    committer?.nudge();
  };
  const effects = new Effects({
    store,
    producer,
    deadLetterTopic: config.topics.deadLetter,
    onDone: release,
    onError: (operation, err) => {
      if (operation === "store") metrics.postgresErrors.inc({ operation: "write" });
      else metrics.kafkaErrors.inc({ operation: "produce" });
      log.warn({ err, operation }, "effects write failed; retrying");
    },
    sleep,
  });
  // An outage is waited out; a refusal (bad data, a bug) would be refused forever: the caller decides.
  const withStoreRetry = <T>(fn: () => Promise<T>): Promise<T> =>
    retryThroughOutage(fn, {
      onError: (err) => {
        metrics.postgresErrors.inc({ operation: "read" });
        log.warn({ err }, "postgres read failed");
      },
      giveUp: (err) => stopping || isPermanentStoreError(err),
      sleep,
    });

  // Partitions this member owns now; work of others (fetched before a rebalance) is left to their new owner.
  const leases = new PartitionLeases();
  const shutdown = new AbortController();
  // Every job waiting for budget or a backoff listens to it: hundreds of listeners are expected, not a leak.
  setMaxListeners(0, shutdown.signal);
  const answerDeps: AnswerDeps = {
    shutdown: shutdown.signal,
    lease: (job) => leases.signal(job.source.partition),
    client,
    limiter,
    gate,
    audit: (e) => store.audit.append(e),
    metrics,
    policy: config.openai.retry,
    timeoutMs: config.openai.timeoutMs,
    sleep,
    random: Math.random,
    now,
  };
  const recent = new RecentReplies(10_000);
  const inFlight = new InFlightRequests();
  let intakeQueued = 0;
  let stopping = false;

  const checkBackpressure = () => {
    const load = scheduler.size() + intakeQueued + effects.pending();
    metrics.inFlight.set(scheduler.size());
    if (load >= config.worker.maxInFlight) setPaused("backpressure", true);
    else if (load <= config.worker.maxInFlight * 0.8) setPaused("backpressure", false);
    setPaused("ratelimit", limiter.isSaturated());
  };
  limiter.onDrain(checkBackpressure);

  const runJob = async (job: Job): Promise<void> => {
    const id = job.request.request_id;
    let completed = false;
    try {
      const known = recent.get(id);
      if (known) {
        await effects.push(republishEffect(job, known, config.topics.replies));
        completed = true;
        return;
      }
      const { effect, estimatedPromptTokens } = await processJob(job, {
        store,
        answer: answerDeps,
        historyMaxMessages: config.worker.historyMaxMessages,
        replyTopic: config.topics.replies,
        withStoreRetry,
      });
      const published = await effects.push(effect);
      completed = true;
      // Remember what actually went out (the stored reply), so a later duplicate gets the very same one.
      if (published !== undefined) recent.set(id, JSON.parse(published) as ChatReply);
      recordOutcome(metrics, job, effect.outcome.reply, effect.outcome.apiMs, estimatedPromptTokens);
      log.info(
        {
          request_id: id,
          conversation_id: job.request.conversation_id,
          tenant: job.request.tenant,
          model: job.model,
          status: effect.outcome.reply.status,
          attempts: effect.outcome.attempts,
          error_code: effect.outcome.reply.error?.code,
          ms: effect.outcome.reply.latency_ms,
        },
        "request finished",
      );
    } catch (err) {
      // Only a stop or a rebalance gets here (the job had not reached the API, or its effects could not be
      // written while stopping): the offset stays uncommitted and Kafka gives it to the next owner.
      log.info({ request_id: id, reason: (err as Error).name }, "request left for redelivery");
    } finally {
      inFlight.settle(id, completed);
    }
  };
  const scheduler = new KeyedScheduler<Job>(runJob, config.worker.maxInFlight, checkBackpressure);

  const schedule = (job: Job): void => {
    if (!leases.owns(job.source.partition)) return;
    const first = inFlight.claim(job.request.request_id);
    if (first) {
      // The same request twice in flight: one API call, one reply. If the first copy was dropped, this one goes on.
      void first.then((completed) => (completed ? release([job.source]) : schedule(job)));
      return;
    }
    scheduler.push(job.key, job);
  };
  const dropped = (jobs: Job[]) => {
    for (const job of jobs) inFlight.settle(job.request.request_id, false);
  };

  const intakeDeps = {
    limits: {
      maxBytes: config.worker.maxRequestBytes,
      allowedModels: config.openai.allowedModels,
      allowedReplyTopics: config.topics.allowedReplyTopics,
    },
    defaultModel: config.openai.defaultModel,
    topics: { replies: config.topics.replies, deadLetter: config.topics.deadLetter },
    store,
    metrics,
    withStoreRetry,
    pushEffect: (e: Parameters<typeof effects.push>[0]) => {
      effects.push(e).catch((err) => log.warn({ err }, "message left unfinished"));
    },
    schedule,
    now,
  };
  let intakeChain: Promise<void> = Promise.resolve();
  const onRecords = (records: InRecord[]) => {
    if (stopping) return;
    const fresh = records.filter((r) => tracker.track(r.partition, r.offset));
    if (fresh.length === 0) return;
    intakeQueued += fresh.length;
    checkBackpressure();
    // One batch at a time, in fetch order: a conversation's turns must reach the scheduler in offset order.
    intakeChain = intakeChain
      .then(() => intake(fresh, intakeDeps))
      .catch((err) => log.error({ err }, "intake failed; batch left uncommitted"))
      .finally(() => {
        intakeQueued -= fresh.length;
        checkBackpressure();
      });
  };

  const lag = await startLagMonitor({
    kafka,
    groupId: config.kafka.groupId,
    topic: config.topics.requests,
    owns: (partition) => leases.owns(partition),
    intervalMs: config.worker.lagRefreshMs,
    metrics,
    log,
  });
  consumer = createBatchConsumer(kafka, {
    groupId: config.kafka.groupId,
    topic: config.topics.requests,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
  });
  committer = new Committer(
    tracker,
    config.topics.requests,
    (o) => (consumer as BatchConsumer).commit(o),
    (err) => {
      metrics.kafkaErrors.inc({ operation: "commit" });
      log.warn({ err }, "offset commit failed; will retry");
    },
  );
  let joined = false;
  consumer.onAssignment((partitions) => {
    joined = true;
    // Work of a lost partition is its new owner's now (it re-reads from the last commit): running it here too
    // would call the API twice. Ending the leases stops its waits for budget at once; what is queued behind its
    // conversations is dropped; what is already at the API finishes (its effects are idempotent).
    const lost = leases.assign(partitions);
    tracker.retainOnly(partitions);
    const handedOver = scheduler.dropQueued((job) => !leases.owns(job.source.partition));
    dropped(handedOver);
    // A partition now read by another member is its lag to report, not ours.
    for (const p of lost) lag.forget(p);
    log.info({ partitions, lost, handed_over: handedOver.length }, "partitions assigned");
    applyPause(consumption.isPaused());
    committer?.nudge();
  });
  let reportFatal: (err: Error) => void = () => {};
  const fatal = new Promise<Error>((r) => (reportFatal = r));
  let crashed: Error | undefined;
  consumer.onCrash((error, restart) => {
    metrics.kafkaErrors.inc({ operation: "consume" });
    log.error({ err: error, restart }, "kafka consumer crashed");
    if (!restart) {
      crashed = error;
      reportFatal(error);
    }
  });
  await consumer.start(onRecords);

  const depthTimer = setInterval(() => {
    for (const d of limiter.snapshot())
      metrics.ratelimitQueueDepth.set({ model: d.model, priority: d.priority }, d.queued);
  }, 1000);

  const telemetry: TelemetryServer = await startTelemetryServer({
    port: config.telemetry.port,
    host: config.telemetry.host,
    registry: metrics.registry,
    readiness: {
      kafka: () =>
        crashed
          ? { ok: false, detail: `consumer crashed: ${crashed.message}` }
          : joined
            ? { ok: true }
            : { ok: false, detail: "not yet in the consumer group" },
      postgres: async () => {
        await store.ping();
        return { ok: true };
      },
      auth: () =>
        gate.isOpen()
          ? { ok: true }
          : { ok: false, detail: "paused: the API rejected the key or quota; probing" },
    },
  });
  log.info(
    {
      metrics_port: telemetry.port,
      topic: config.topics.requests,
      group: config.kafka.groupId,
      max_in_flight: config.worker.maxInFlight,
      shared_budget: config.redisUrl !== undefined,
      openai_base_url: config.openai.baseURL ?? "https://api.openai.com/v1",
    },
    "worker started",
  );

  return {
    metricsPort: telemetry.port,
    fatal,
    async stop() {
      const deadline = now() + config.worker.shutdownTimeoutMs;
      stopping = true;
      setPaused("shutdown", true);
      // Calls already at the API finish; work still queued (behind its conversation or for budget) is left
      // uncommitted for the next worker instead of holding this one past its deadline.
      dropped(scheduler.stop());
      shutdown.abort();
      gate.stop();
      log.info({ in_flight: scheduler.size() }, "stopping: finishing in-flight work");
      const left = () => Math.max(0, deadline - now());
      await within(intakeChain, left());
      const drained = await waitFor(() => scheduler.size() === 0, left());
      if (!drained) {
        log.warn(
          { left: scheduler.size() },
          "shutdown deadline reached; unfinished work will be redelivered",
        );
      }
      // What finished is written and committed, each step bounded: a dead Redis or broker must not hold the
      // process past its deadline (the supervisor would SIGKILL it, and the audit buffer would be lost).
      await within(effects.drain(), Math.max(left(), 2000));
      await within(committer?.flush(), 5000);
      clearInterval(depthTimer);
      await within(lag.stop(), 2000);
      await within(consumer?.disconnect(), 5000);
      await within(producer.disconnect(), 5000);
      await within(store.close(), 5000);
      await within(limiter.close(), 2000);
      await telemetry.close();
      log.info({ committed_through: "last finished offset" }, "stopped");
    },
  };
}

function republishEffect(job: Job, reply: ChatReply, defaultReplyTopic: string) {
  return {
    kind: "republish" as const,
    source: job.source,
    audit: { event: "reply_republished" as const, requestId: job.request.request_id, at: new Date() },
    reply: {
      topic: replyTopicOf(job.request, defaultReplyTopic),
      key: job.key,
      value: JSON.stringify(reply),
    },
  };
}

function recordOutcome(
  metrics: ChatqMetrics,
  job: Job,
  reply: ChatReply,
  apiMs: number,
  estimatedPromptTokens: number,
) {
  const model = job.model;
  if (reply.status === "completed") metrics.requestsCompleted.inc({ model });
  else metrics.requestsFailed.inc({ model, error_class: reply.error?.code ?? "unknown" });
  if (reply.usage) {
    metrics.tokens.inc({ model, kind: "prompt" }, reply.usage.prompt_tokens);
    metrics.tokens.inc({ model, kind: "completion" }, reply.usage.completion_tokens);
    metrics.tokensEstimated.inc({ model }, estimatedPromptTokens);
  }
  if (reply.cost_usd !== undefined) metrics.costUsd.inc({ model }, reply.cost_usd);
  const e2eMs = Math.max(0, Date.now() - job.originMs);
  metrics.endToEndLatency.observe({ priority: job.priority }, e2eMs / 1000);
  metrics.addedLatency.observe({ priority: job.priority }, Math.max(0, e2eMs - apiMs) / 1000);
}

/** Waits for the work, but no longer than ms; its failure is not the shutdown's (it was logged where it happened). */
async function within(work: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    (work ?? Promise.resolve()).catch(() => undefined),
    new Promise<void>((r) => {
      timer = setTimeout(r, ms);
    }),
  ]);
  clearTimeout(timer);
}

async function waitFor(cond: () => boolean, timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
  const until = now() + timeoutMs;
  while (!cond()) {
    if (now() >= until) return false;
    await sleep(20);
  }
  return true;
}
