import { setTimeout as delay } from "node:timers/promises";
import { loadPolicyBook } from "@chatq/guardrails";
import { createBatchConsumer, createKafka, createRecordProducer, ensureTopics } from "@chatq/kafka";
import { createChatClient, createEmbeddingClient, createModerationClient, loadPriceTable } from "@chatq/llm";
import { createRateLimiter } from "@chatq/ratelimit";
import { RouteSource, type RouteTable } from "@chatq/routing";
import { createStore, migrate, type Store } from "@chatq/store";
import { type ChatqMetrics, type Logger, primeSeries, startTelemetryServer } from "@chatq/telemetry";
import { loadKeyWrapper } from "@chatq/vault";
import { ApiGates } from "./api-gates.ts";
import { startBatchPath } from "./batch-path.ts";
import { Closers } from "./closers.ts";
import type { WorkerConfig } from "./config.ts";
import { openRetrievalStore } from "./document-library.ts";
import { budgetPerSecond, DEFAULT_IN_FLIGHT_TARGET, InFlightTargetEstimator } from "./in-flight-target.ts";
import { startLagMonitor } from "./lag-monitor.ts";
import { Pipeline, type PipelinePorts } from "./pipeline.ts";
import { recordMetrics } from "./record-metrics.ts";
import { wireRouting } from "./routing-deps.ts";
import { readBudgetPolicy } from "./tenant-budget.ts";
import { WorkerEvents } from "./worker-events.ts";

export interface RunningWorker {
  /** Stops fetching, finishes in-flight work, writes and commits what finished, disconnects: all by one deadline. */
  stop(): Promise<void>;
  /** Resolves on a failure the worker cannot recover from (kafkajs gave up); main exits non-zero. */
  fatal: Promise<Error>;
  metricsPort: number;
  /** Re-reads the route file (SIGHUP); a bad one is refused and the old table keeps serving. */
  reloadRoutes(): void;
}

/** Resolves after ms, or early when the signal aborts; never rejects. */
const sleep = (ms: number, signal?: AbortSignal) =>
  delay(ms, undefined, signal ? { signal } : {}).catch(() => undefined) as Promise<void>;
const now = () => performance.now();

/**
 * The composition root: builds the parts in dependency order, registering each one's closer as it starts, and
 * wires Kafka to the pipeline. A start that fails half way closes what it started. Behaviour lives in the parts.
 */
export async function startWorker(
  config: WorkerConfig,
  log: Logger,
  metrics: ChatqMetrics,
): Promise<RunningWorker> {
  const closers = new Closers({
    now,
    onError: (name, err) => log.warn({ err, part: name }, "closing failed"),
    onTimeout: (name, ms) => log.warn({ part: name, ms }, "closing timed out; going on"),
  });
  const events = new WorkerEvents((err, event) => log.error({ err, event }, "event listener failed"));
  recordMetrics(events, metrics, { metricTenants: config.routing.metricTenants });
  try {
    return await start(config, log, metrics, events, closers);
  } catch (err) {
    await closers.close(now() + 10_000);
    throw err;
  }
}

async function start(
  config: WorkerConfig,
  log: Logger,
  metrics: ChatqMetrics,
  events: WorkerEvents,
  closers: Closers,
): Promise<RunningWorker> {
  // Routes, prices and budgets first: a broken file stops the worker before it connects to anything.
  const routes = new RouteSource({
    path: config.routing.routesFile,
    pollMs: config.routing.pollMs,
    onReload: (o) => {
      if (o.ok) {
        applyRoutes(config, o.table);
        events.emit("routes_reloaded", { ok: true, version: o.table.version });
        if (o.changed)
          log.info({ version: o.table.version, file: config.routing.routesFile }, "route table reloaded");
      } else {
        events.emit("routes_reloaded", { ok: false, problems: o.error.problems });
        log.error({ problems: o.error.problems }, "route file refused; the previous table keeps serving");
      }
    },
  });
  closers.add("routes", () => routes.stop());
  applyRoutes(config, routes.current());
  const prices = loadPriceTable(config.routing.pricesFile, {
    version: config.routing.pricesVersion,
    models: config.routing.priceOverrides,
  });
  const budgets =
    config.routing.budgetsFile === undefined ? undefined : readBudgetPolicy(config.routing.budgetsFile);

  // The parts /readyz asks about, filled in as they start.
  const parts: { store?: Store; gates?: ApiGates; pipeline?: Pipeline; crashed?: Error } = {};
  const starting = { ok: false, detail: "starting" };
  // First up, last down: /healthz answers while the rest starts and stops; /readyz says what is not ready yet.
  const telemetry = await startTelemetryServer({
    port: config.telemetry.port,
    host: config.telemetry.host,
    registry: metrics.registry,
    readiness: {
      kafka: () =>
        parts.crashed
          ? { ok: false, detail: `consumer crashed: ${parts.crashed.message}` }
          : parts.pipeline?.joined()
            ? { ok: true }
            : { ok: false, detail: "not yet in the consumer group" },
      postgres: async () => {
        if (!parts.store) return starting;
        await parts.store.ping();
        return { ok: true };
      },
      auth: () => parts.gates?.authReadiness() ?? starting,
      api: () => parts.gates?.apiReadiness() ?? starting,
    },
  });
  closers.add("telemetry", () => telemetry.close(), 2000);

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
  const wrapper = await loadKeyWrapper(config.encryption);
  const encryption = wrapper === undefined ? undefined : { wrapper };
  const store = await createStore({
    ...storeOptions,
    ...(encryption !== undefined && { encryption }),
    onError: (err) => {
      events.emit("store_error", { operation: "background" });
      log.warn({ err, operation: err.operation }, "postgres error");
    },
  });
  closers.add("store", () => store.close(), 5000);
  parts.store = store;

  const kafka = createKafka({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, log });
  if (config.topics.create) {
    const created = await ensureTopics(kafka, [
      { name: config.topics.requests, partitions: config.topics.partitions },
      { name: config.topics.replies, partitions: config.topics.partitions },
      { name: config.topics.deadLetter, partitions: Math.max(1, Math.ceil(config.topics.partitions / 4)) },
    ]);
    if (created.length > 0) log.info({ topics: created }, "topics created");
  }
  const producer = await createRecordProducer(kafka, { compression: config.kafka.compression });
  closers.add("producer", () => producer.disconnect(), 5000);

  const limiter = await createRateLimiter({
    limits: config.rateLimit.limits,
    burstSliceMs: config.rateLimit.burstSliceMs,
    maxQueued: config.rateLimit.maxQueued,
    onError: (err) => log.warn({ err }, "rate limiter: shared budget call failed"),
    ...(config.redisUrl !== undefined && {
      redis: { url: config.redisUrl, keyPrefix: config.rateLimit.keyPrefix },
    }),
  });
  closers.add("limiter", () => limiter.close(), 2000);
  primeWorkerSeries(config, metrics);

  const client = createChatClient({
    apiKey: config.openai.apiKey,
    baseURL: config.openai.baseURL,
    organization: config.openai.organization,
  });
  const gates = new ApiGates({
    probeAccount: () => client.probe(5000),
    accountMaxOpenMs: config.worker.authProbeMaxIntervalMs,
    modelMaxOpenMs: config.worker.circuitProbeMaxIntervalMs,
    now,
    sleep,
    random: Math.random,
    onChange: (circuit, state, info) => {
      events.emit("circuit_changed", { circuit, state, ...info });
      const fields = { circuit, state, reason: info.reason, next_try_in_ms: info.nextTryInMs };
      if (state === "open") log.error(fields, "API circuit open: calls wait, nothing is failed; probing");
      else
        log.info(
          fields,
          state === "closed" ? "API circuit closed: calls resume" : "API circuit half-open: one trial call",
        );
    },
  });
  parts.gates = gates;

  // Only with retrieval configured: the embedded store is a WASM Postgres of a few hundred MB.
  let retrieval: PipelinePorts["retrieval"];
  if (config.retrieval.store !== "off") {
    const store = await openRetrievalStore(
      config.retrieval,
      { databaseUrl: config.database.url, schema: config.database.schema },
      (note) => log.warn({ note }, "retrieval"),
    );
    closers.add("vector store", () => store.close(), 5000);
    retrieval = {
      store,
      embeddings: createEmbeddingClient({
        apiKey: config.openai.apiKey,
        baseURL: config.openai.baseURL,
        organization: config.openai.organization,
      }),
    };
    log.info({ backend: store.backend, dimensions: store.dimensions }, "vector store open");
  }

  // Read and validated at start: a bad policy file stops the worker here, not a request later.
  const guard = config.guardrails && {
    policies: loadPolicyBook(config.guardrails.policyFile),
    moderation: createModerationClient({
      apiKey: config.openai.apiKey,
      baseURL: config.openai.baseURL,
      organization: config.openai.organization,
    }),
    failOpenWaitMs: config.routing.waitBudgetMs,
  };

  const consumer = createBatchConsumer(kafka, {
    groupId: config.kafka.groupId,
    topic: config.topics.requests,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
  });
  closers.add("consumer", () => consumer.disconnect(), 5000);
  const routing = wireRouting({
    routes,
    prices,
    budgets,
    store,
    defaults: {
      apiKey: config.openai.apiKey,
      baseURL: config.openai.baseURL,
      organization: config.openai.organization,
    },
    secret: config.secret,
    waitBudgetMs: config.routing.waitBudgetMs,
    spendRefreshMs: config.routing.spendRefreshMs,
  });
  const batch = await startBatchPath({
    config: config.batch,
    guardrailsOn: config.guardrails !== undefined,
    database: { ...storeOptions, encryption },
    store,
    producer,
    topics: config.topics,
    api: {
      apiKey: config.openai.apiKey,
      baseURL: config.openai.baseURL,
      organization: config.openai.organization,
    },
    prices: routing.prices,
    charge: routing.charge,
    syncBusy: () => limiter.snapshot().some((d) => d.queued > 0),
    events,
    log,
    registry: metrics.registry,
    sleep,
  });
  const inFlightTarget = budgetInFlightTarget(config, events, now);
  const pipeline = new Pipeline(
    {
      batch,
      consumer,
      store,
      producer,
      limiter,
      client,
      gates,
      events,
      log,
      now,
      sleep,
      random: Math.random,
      retrieval,
      routing,
      inFlightTarget,
      guard,
    },
    {
      topics: config.topics,
      decode: {
        maxBytes: config.worker.maxRequestBytes,
        allowedModels: config.openai.allowedModels,
        allowedReplyTopics: config.topics.allowedReplyTopics,
      },
      defaultModel: config.openai.defaultModel,
      maxInFlight: config.worker.maxInFlight,
      historyMaxMessages: config.worker.historyMaxMessages,
      retry: config.openai.retry,
      timeoutMs: config.openai.timeoutMs,
      context: {
        historyWindowShare: config.context.historyWindowShare,
        summary: config.context.summary,
        retrieval: { embedding: config.retrieval.embedding, tenantDefaults: config.retrieval.tenantDefaults },
      },
    },
  );
  parts.pipeline = pipeline;
  consumer.onAssignment((partitions) => pipeline.onAssignment(partitions));
  let reportFatal: (err: Error) => void = () => {};
  const fatal = new Promise<Error>((r) => (reportFatal = r));
  consumer.onCrash((error, restart) => {
    events.emit("kafka_error", { operation: "consume" });
    log.error({ err: error, restart }, "kafka consumer crashed");
    if (!restart) {
      parts.crashed = error;
      reportFatal(error);
    }
  });
  await consumer.start((records) => pipeline.onRecords(records));
  // Registered after the consumer, so it runs before it: drain and commit while the consumer can still commit.
  const reserveMs = closeReserveMs(config.worker.shutdownTimeoutMs);
  closers.add("pipeline", (deadlineAt) => pipeline.stop(deadlineAt - reserveMs, deadlineAt));
  if (batch) closers.add("batch path", () => batch.stop(), 5000);

  const lag = await startLagMonitor({
    kafka,
    groupId: config.kafka.groupId,
    topic: config.topics.requests,
    owns: (partition) => pipeline.ownsPartition(partition),
    intervalMs: config.worker.lagRefreshMs,
    metrics,
    log,
  });
  events.on("assignment_changed", ({ lost }) => {
    for (const p of lost) lag.forget(p);
  });
  closers.add("lag monitor", () => lag.stop(), 2000);
  const gauges = setInterval(() => {
    for (const d of limiter.snapshot())
      metrics.ratelimitQueueDepth.set({ model: d.model, priority: d.priority }, d.queued);
    for (const w of gates.waiting()) metrics.circuitWaiting.set({ circuit: w.circuit }, w.waiting);
  }, 1000);
  closers.add("gauges", () => clearInterval(gauges));

  log.info(
    {
      metrics_port: telemetry.port,
      topic: config.topics.requests,
      group: config.kafka.groupId,
      max_in_flight: config.worker.maxInFlight,
      shared_budget: config.redisUrl !== undefined,
      openai_base_url: config.openai.baseURL ?? "https://api.openai.com/v1",
      routes: Object.keys(routes.current().routes),
      route_table_version: routes.current().version,
      price_version: prices.version,
    },
    "worker started",
  );
  return {
    metricsPort: telemetry.port,
    fatal,
    reloadRoutes: () => void routes.reload(),
    async stop() {
      await closers.close(now() + config.worker.shutdownTimeoutMs);
      log.info({ committed_through: "last finished offset" }, "stopped");
    },
  };
}

/**
 * What a route table changes outside routing: its route names (and deprecated models) become requestable model
 * names, and each deployment with limits gets its own bucket in the shared limiter (`@{deployment}`). Names are
 * only added: a request already admitted for a route removed since is still decodable when redelivered.
 */
function applyRoutes(config: WorkerConfig, table: RouteTable): void {
  for (const name of [...Object.keys(table.routes), ...Object.keys(table.deprecations)]) {
    config.openai.allowedModels.add(name);
  }
  const perModel = config.rateLimit.limits.perModel;
  for (const [id, d] of Object.entries(table.deployments)) {
    if (d.limits) perModel[`@${id}`] = d.limits;
  }
}

/** Little's law over the API calls this worker makes, bounded by WORKER_MAX_IN_FLIGHT (in-flight-target.ts). */
function budgetInFlightTarget(config: WorkerConfig, events: WorkerEvents, now: () => number) {
  const { limits } = config.rateLimit;
  const estimator = new InFlightTargetEstimator(
    { ...DEFAULT_IN_FLIGHT_TARGET, max: config.worker.maxInFlight },
    (model) => budgetPerSecond((limits.perModel[model] ?? limits.default).rpm),
    now,
  );
  events.on("attempt", ({ model, seconds }) => estimator.observe(model, seconds * 1000));
  return estimator;
}

/**
 * Of the shutdown budget, what is kept for writing, committing and disconnecting after in-flight calls had their
 * time: a quarter, at least 2 s and at most 10 s.
 */
export function closeReserveMs(shutdownTimeoutMs: number): number {
  return Math.min(10_000, Math.max(2_000, shutdownTimeoutMs / 4));
}

/** The models this worker knows it serves: their series exist (at 0) from the start, so rate() and ratios work. */
function primeWorkerSeries(config: WorkerConfig, metrics: ChatqMetrics): void {
  metrics.inFlightLimit.set(config.worker.maxInFlight);
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
}
