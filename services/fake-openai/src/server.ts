import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type ChatCall, type ChatMessage, validateChatRequest } from "./chat-request.ts";
import { buildEmbeddings, validateEmbeddingsRequest } from "./embeddings.ts";
import { type FaultMarker, firesBeforeAdmission, MarkerLedger, parseFaultMarker } from "./fault-markers.ts";
import { Listener } from "./listener.ts";
import { findModel, KNOWN_MODELS } from "./models.ts";
import { buildModerations, validateModerationsRequest } from "./moderations.ts";
import {
  ApiErrorReply,
  bodyTooLarge,
  FAKE_ORGANIZATION,
  incorrectApiKey,
  injectedFailure,
  insufficientQuota,
  invalidUrl,
  methodNotAllowed,
  missingApiKey,
  modelNotFound,
  rateLimited,
  requestTooLarge,
  unparsableJson,
} from "./openai-errors.ts";
import {
  applyPatch,
  ConfigPatchSchema,
  DEFAULT_CONFIG,
  type FakeOpenAIConfig,
  type FakeOpenAIConfigPatch,
  type FakeOpenAIOptions,
  limitsFor,
  publicConfig,
} from "./options.ts";
import { type OutageCall, outageAnswer } from "./outage.ts";
import { type RandomSource, seededRandom } from "./prng.ts";
import { RateLimiter, rateLimitHeaders } from "./rate-limiter.ts";
import { buildCompletion } from "./reply.ts";
import { type FakeOpenAIStats, StatsRecorder } from "./stats.ts";

/** A running fake. */
export interface FakeOpenAI {
  /** Base URL for the SDK's `baseURL`, e.g. http://127.0.0.1:8089/v1. */
  readonly url: string;
  readonly port: number;
  /**
   * Change behaviour while running (a new key, other limits, latency, fault rates, an outage). Takes effect at
   * once for every new call; an outage that closes or reopens the listener is done when `settled()` resolves.
   */
  configure(patch: FakeOpenAIConfigPatch): void;
  /** Resolves once the listener is open or closed as the current outage wants (see `outage.refuse_connections`). */
  settled(): Promise<void>;
  config(): FakeOpenAIConfig;
  stats(): FakeOpenAIStats;
  /**
   * The messages of the last chat completions received (newest last, at most RECEIVED_KEPT), so a test can check
   * what a model was actually sent (GET /_fake/received). Cleared by reset().
   */
  received(): ReceivedChat[];
  /** The inputs of the last moderation calls received (newest last, at most RECEIVED_KEPT); cleared by reset(). */
  receivedModerations(): ReceivedModeration[];
  /** Zero the stats only. */
  resetStats(): void;
  /** Zero the stats, forget fault-marker counts and refill every rate-limit bucket (POST /_fake/reset). */
  reset(): void;
  /** Stop listening and drop every connection, hanging ones included. */
  close(): Promise<void>;
}

/** What the fake remembers of one chat completion it was sent. */
export interface ReceivedChat {
  model: string;
  clientRequestId: string | undefined;
  messages: readonly ChatMessage[];
}

/** What the fake remembers of one moderation call. */
export interface ReceivedModeration {
  model: string;
  clientRequestId: string | undefined;
  inputs: readonly string[];
}

/** A bounded ring: enough for a test's last few calls, never a leak under a benchmark's load. */
export const RECEIVED_KEPT = 64;

const OPENAI_VERSION = "2020-10-01";
const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** What an injected [[fail:429]] asks the client to wait: short, so retry tests stay fast. */
const INJECTED_RETRY_AFTER_MS = 200;
const INJECTED_SERVER_ERRORS = [500, 502, 503] as const;
const LIMIT_KEYS: ReadonlySet<string> = new Set(["rpm", "tpm", "modelLimits", "limitSliceMs"]);

/** One request being answered: what every reply needs to carry. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  startedAt: number;
  requestId: string;
  /** Set once the connection is gone (client gave up or the answer is out): nothing more may be sent. */
  closed: boolean;
  /** x-ratelimit-* headers once the model is known. */
  rateHeaders: Record<string, string>;
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const {
    host = "127.0.0.1",
    port = 0,
    random: injectedRandom,
    now = () => performance.now(),
    ...patch
  } = options;
  let config = applyPatch({ ...DEFAULT_CONFIG }, ConfigPatchSchema.parse(patch));
  let random: RandomSource = injectedRandom ?? seededRandom(config.seed);
  const makeLimiter = () =>
    new RateLimiter({ limitsFor: (model) => limitsFor(config, model), sliceMs: config.limitSliceMs, now });
  let limiter = makeLimiter();
  const ledger = new MarkerLedger();
  const stats = new StatsRecorder();
  const timers = new Set<NodeJS.Timeout>();
  let received: ReceivedChat[] = [];
  let receivedModerations: ReceivedModeration[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = pathOf(req.url);
    if (path.startsWith("/_fake/")) {
      handleAdmin(req, res, path);
      return;
    }
    const ex: Exchange = {
      req,
      res,
      startedAt: performance.now(),
      requestId: `req_${randomUUID().replaceAll("-", "")}`,
      closed: false,
      rateHeaders: {},
    };
    stats.requestStarted();
    res.once("close", () => {
      ex.closed = true;
      stats.requestEnded();
    });
    route(ex, req.method ?? "GET", path).catch((err: unknown) => sendError(ex, err));
  };
  const listener = new Listener(handle, host, port);
  await listener.open();
  const actualPort = listener.port;
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  let outageTimer: NodeJS.Timeout | undefined;
  let closed = false;

  /** Starts the configured outage's clock, and opens or closes the listener to match it. */
  function outageChanged(): void {
    clearTimeout(outageTimer);
    outageTimer = undefined;
    const outage = config.outage;
    if (outage?.forMs !== undefined) {
      outageTimer = setTimeout(() => {
        if (config.outage !== outage || closed) return;
        config = { ...config, outage: null };
        outageChanged();
      }, outage.forMs);
    }
    if (closed) return;
    const change = outage?.kind === "refuse_connections" ? listener.close() : listener.open();
    change.catch((err: unknown) => {
      process.stderr.write(
        `${JSON.stringify({ event: "fake_openai_listener_error", error: String(err) })}\n`,
      );
    });
  }
  outageChanged();

  async function route(ex: Exchange, method: string, path: string): Promise<void> {
    const endpoint: OutageCall["endpoint"] =
      path === "/v1/chat/completions" ? "completions" : path.startsWith("/v1/models") ? "models" : "other";
    const down = path.startsWith("/v1/")
      ? outageAnswer(config.outage, { presentedKey: presentedKey(ex.req), endpoint })
      : undefined;
    if (down?.kind === "hang") return hang();
    if (down?.kind === "error") {
      stats.faultInjected("errors");
      throw down.reply;
    }
    if (path === "/v1/chat/completions") {
      if (method !== "POST") throw methodNotAllowed(method, path);
      authenticate(ex.req);
      await completeChat(ex);
      return;
    }
    if (path === "/v1/models" || path.startsWith("/v1/models/")) {
      if (method !== "GET") throw methodNotAllowed(method, path);
      authenticate(ex.req);
      listModels(ex, decodeURIComponent(path.slice("/v1/models/".length)));
      return;
    }
    if (path === "/v1/embeddings") {
      if (method !== "POST") throw methodNotAllowed(method, path);
      authenticate(ex.req);
      await embed(ex);
      return;
    }
    if (path === "/v1/moderations") {
      if (method !== "POST") throw methodNotAllowed(method, path);
      authenticate(ex.req);
      await moderate(ex);
      return;
    }
    throw invalidUrl(method, path);
  }

  /** As embed: validate → record → charge limits (the moderation model's own) → faults → latency → answer. */
  async function moderate(ex: Exchange): Promise<void> {
    const call = validateModerationsRequest(await readJson(ex));
    const clientRequestId = ex.req.headers["x-client-request-id"];
    receivedModerations.push({
      model: call.model,
      clientRequestId: typeof clientRequestId === "string" ? clientRequestId : undefined,
      inputs: call.inputs,
    });
    if (receivedModerations.length > RECEIVED_KEPT)
      receivedModerations = receivedModerations.slice(-RECEIVED_KEPT);
    answerInputs(ex, call, () => {
      if (send(ex, 200, buildModerations(call, `modr-${randomUUID().replaceAll("-", "")}`), ex.rateHeaders))
        stats.moderations(call.inputs.length);
    });
  }

  /** validate → charge limits (tokens of every input, one request) → faults → latency → answer. */
  async function embed(ex: Exchange): Promise<void> {
    const call = validateEmbeddingsRequest(await readJson(ex));
    answerInputs(ex, call, () => {
      if (send(ex, 200, buildEmbeddings(call), ex.rateHeaders))
        stats.embeddings(call.inputs.length, call.promptTokens);
    });
  }

  async function readJson(ex: Exchange): Promise<unknown> {
    try {
      return JSON.parse(await readBody(ex.req));
    } catch {
      throw unparsableJson();
    }
  }

  /** An endpoint of inputs (embeddings, moderations): one request and its tokens charged, faults, then latency. */
  function answerInputs(
    ex: Exchange,
    call: { model: string; promptTokens: number },
    respond: () => void,
  ): void {
    stats.model(call.model);
    const admission = limiter.admit(call.model, call.promptTokens);
    ex.rateHeaders = rateLimitHeaders(admission.state);
    if (!admission.admitted) {
      stats.rateLimited(admission.kind);
      if (admission.tooLarge) throw requestTooLarge(call.model, admission, ex.rateHeaders);
      throw rateLimited(call.model, admission.kind, admission, ex.rateHeaders);
    }
    if (config.errorRate > 0 && random() < config.errorRate) {
      stats.faultInjected("errors");
      afterLatency(ex, () => sendError(ex, injectedFailure(500)));
      return;
    }
    afterLatency(ex, respond);
  }

  function authenticate(req: IncomingMessage): void {
    const key = presentedKey(req);
    if (!key) throw missingApiKey();
    if (config.apiKey !== null && key !== config.apiKey) throw incorrectApiKey(key);
  }

  /** The order of effects for one completion: validate → 4xx markers → charge limits → faults → latency → answer. */
  async function completeChat(ex: Exchange): Promise<void> {
    const text = await readBody(ex.req);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw unparsableJson();
    }
    const known = knownModelOf(raw);
    if (known) {
      stats.model(known);
      ex.rateHeaders = rateLimitHeaders(limiter.state(known));
    }
    const call = validateChatRequest(raw);
    const model = call.model.id;
    const clientRequestId = ex.req.headers["x-client-request-id"];
    received.push({
      model,
      clientRequestId: typeof clientRequestId === "string" ? clientRequestId : undefined,
      messages: call.messages,
    });
    if (received.length > RECEIVED_KEPT) received = received.slice(-RECEIVED_KEPT);

    const marker = parseFaultMarker(call.lastUserContent);
    if (marker && firesBeforeAdmission(marker) && ledger.fires(call.lastUserContent, marker)) {
      stats.faultInjected("errors");
      throw markerFailure(marker, model);
    }

    const outputBudget = call.maxTokens ?? Math.min(config.defaultMaxTokens, call.model.maxOutputTokens);
    const admission = limiter.admit(model, call.promptTokens + call.n * outputBudget);
    ex.rateHeaders = rateLimitHeaders(admission.state);
    if (!admission.admitted) {
      stats.rateLimited(admission.kind);
      // Like OpenAI, a rate-limited request is answered at once, without latency.
      if (admission.tooLarge) throw requestTooLarge(model, admission, ex.rateHeaders);
      throw rateLimited(model, admission.kind, admission, ex.rateHeaders);
    }

    if (marker && !firesBeforeAdmission(marker) && ledger.fires(call.lastUserContent, marker)) {
      if (marker.kind === "hang") return hang();
      stats.faultInjected("errors");
      return afterLatency(ex, () => sendError(ex, markerFailure(marker, model)));
    }
    if (config.timeoutRate > 0 && random() < config.timeoutRate) return hang();
    if (config.errorRate > 0 && random() < config.errorRate) {
      const status = INJECTED_SERVER_ERRORS[Math.floor(random() * INJECTED_SERVER_ERRORS.length)] ?? 500;
      stats.faultInjected("errors");
      return afterLatency(ex, () => sendError(ex, injectedFailure(status)));
    }
    afterLatency(ex, () => answer(ex, call));
  }

  /** Accept and never answer: the client's timeout is the only way out. Its close frees everything. */
  function hang(): void {
    stats.faultInjected("hangs");
  }

  function answer(ex: Exchange, call: ChatCall): void {
    const body = buildCompletion(call, config.replyTokens, {
      id: `chatcmpl-${randomUUID().replaceAll("-", "")}`,
      createdSeconds: Math.floor(Date.now() / 1000),
    });
    if (!send(ex, 200, body, ex.rateHeaders)) return;
    const clientRequestId = ex.req.headers["x-client-request-id"];
    stats.completion(
      body.usage.prompt_tokens,
      body.usage.completion_tokens,
      typeof clientRequestId === "string" ? clientRequestId : undefined,
    );
  }

  function markerFailure(marker: FaultMarker, model: string): ApiErrorReply {
    if (marker.kind === "quota") return insufficientQuota();
    if (marker.kind === "fail" && marker.status === 429) {
      const figures = { limit: 1, used: 1, requested: 1, retryAfterMs: INJECTED_RETRY_AFTER_MS };
      return rateLimited(model, "requests", figures, {});
    }
    return injectedFailure(marker.kind === "fail" ? marker.status : 500);
  }

  function afterLatency(ex: Exchange, respond: () => void): void {
    const delay = Math.max(0, config.latencyMs + (random() * 2 - 1) * config.jitterMs);
    if (delay === 0) {
      respond();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      respond();
    }, delay);
    timers.add(timer);
    // A client that gave up gets nothing, and its answer is not counted.
    ex.res.once("close", () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  }

  function listModels(ex: Exchange, id: string): void {
    const describe = (m: { id: string; created: number }) => ({
      id: m.id,
      object: "model",
      created: m.created,
      owned_by: "system",
    });
    if (id === "") {
      send(ex, 200, { object: "list", data: KNOWN_MODELS.map(describe) }, {});
      return;
    }
    const model = findModel(id);
    if (!model) throw modelNotFound(id);
    send(ex, 200, describe({ id, created: model.created }), {});
  }

  function knownModelOf(raw: unknown): string | undefined {
    if (typeof raw !== "object" || raw === null || !("model" in raw) || typeof raw.model !== "string") return;
    return findModel(raw.model)?.id;
  }

  function sendError(ex: Exchange, err: unknown): void {
    // A client that hung up mid-body surfaces here as a socket error: nobody is left to answer.
    if (ex.closed) return;
    if (!(err instanceof ApiErrorReply)) {
      process.stderr.write(
        `${JSON.stringify({ event: "fake_openai_unexpected_error", error: String(err) })}\n`,
      );
    }
    const reply =
      err instanceof ApiErrorReply
        ? err
        : new ApiErrorReply(500, "server_error", "The fake OpenAI server failed to handle the request.");
    send(ex, reply.status, reply.body(), { ...ex.rateHeaders, ...reply.headers });
  }

  function send(ex: Exchange, status: number, body: unknown, headers: Record<string, string>): boolean {
    if (ex.closed || ex.res.headersSent) return false;
    const payload = JSON.stringify(body);
    ex.res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(payload),
      "x-request-id": ex.requestId,
      "openai-version": OPENAI_VERSION,
      "openai-organization": FAKE_ORGANIZATION,
      "openai-processing-ms": String(Math.round(performance.now() - ex.startedAt)),
      ...headers,
    });
    ex.res.end(payload);
    stats.answered(status);
    return true;
  }

  function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string): void {
    const reply = (status: number, body: unknown) => {
      const payload = JSON.stringify(body);
      res.writeHead(status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(payload),
      });
      res.end(payload);
    };
    const key = `${req.method} ${path}`;
    switch (key) {
      case "GET /_fake/stats":
        reply(200, stats.snapshot());
        return;
      case "GET /_fake/health":
        reply(200, { status: "ok" });
        return;
      case "GET /_fake/received":
        reply(200, { data: fake.received(), moderations: fake.receivedModerations() });
        return;
      case "GET /_fake/config":
        reply(200, publicConfig(config));
        return;
      case "POST /_fake/reset":
        fake.reset();
        reply(200, { status: "reset" });
        return;
      case "POST /_fake/config":
        readBody(req)
          .then((text) => {
            let raw: unknown;
            try {
              raw = JSON.parse(text);
            } catch {
              reply(400, { error: { message: "body is not JSON", type: "invalid_request_error" } });
              return;
            }
            const parsed = ConfigPatchSchema.safeParse(raw);
            if (!parsed.success) {
              reply(400, { error: { message: parsed.error.message, type: "invalid_request_error" } });
              return;
            }
            if (parsed.data.outage?.kind === "refuse_connections" && parsed.data.outage.forMs === undefined) {
              // Nothing could reach this endpoint again to end it.
              const message =
                "refuse_connections over HTTP needs forMs: with the listener closed, no call could end it";
              reply(400, { error: { message, type: "invalid_request_error" } });
              return;
            }
            fake.configure(parsed.data);
            reply(200, publicConfig(config));
          })
          .catch(() => reply(413, { error: { message: "body too large", type: "invalid_request_error" } }));
        return;
    }
    reply(404, { error: { message: `Unknown admin endpoint (${key})`, type: "invalid_request_error" } });
  }

  const fake: FakeOpenAI = {
    url: `http://${urlHost}:${actualPort}/v1`,
    port: actualPort,
    configure(update) {
      const checked = ConfigPatchSchema.parse(update);
      config = applyPatch(config, checked);
      if (checked.seed !== undefined && !injectedRandom) random = seededRandom(config.seed);
      // New limits start from full buckets, as if the account had just been granted them.
      if (Object.keys(checked).some((k) => LIMIT_KEYS.has(k))) limiter = makeLimiter();
      if (checked.outage !== undefined) outageChanged();
    },
    settled: () => listener.settled(),
    config: () => ({ ...config }),
    stats: () => stats.snapshot(),
    received: () => [...received],
    receivedModerations: () => [...receivedModerations],
    resetStats: () => stats.reset(),
    reset() {
      stats.reset();
      received = [];
      receivedModerations = [];
      ledger.reset();
      limiter.reset();
    },
    async close() {
      closed = true;
      clearTimeout(outageTimer);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await listener.close();
    },
  };
  return fake;
}

/** The key of `Authorization: Bearer <key>`, if one was sent. */
function presentedKey(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  return header === undefined ? undefined : /^Bearer\s+(\S.*)$/i.exec(header)?.[1]?.trim() || undefined;
}

function pathOf(url: string | undefined): string {
  if (!url) return "/";
  const query = url.indexOf("?");
  return query >= 0 ? url.slice(0, query) : url;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(bodyTooLarge(MAX_BODY_BYTES));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
