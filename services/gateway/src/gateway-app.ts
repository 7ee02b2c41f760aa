import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ChatReply, ChatRequest } from "@chatq/contracts";
import type { RecordProducer } from "@chatq/kafka";
import { estimateRequestTokens } from "@chatq/llm";
import type { Permit } from "@chatq/ratelimit";
import type { ReadinessReport } from "@chatq/telemetry";
import { type Authenticator, budgetReached, type Caller } from "@chatq/tenants";
import type { z } from "zod";
import type { GatewayConfig } from "./config.ts";
import { GatewayError } from "./gateway-error.ts";
import type { GatewayMetrics, Route } from "./gateway-metrics.ts";
import { bearerToken, corsHeaders, readBody, securityHeaders, sendError, sendJson } from "./http-io.ts";
import { AsyncBatchSchema, ChatCompletionRequestSchema } from "./openai-schema.ts";
import type { ReplyRouter } from "./reply-router.ts";
import type { StaticAssets } from "./static-assets.ts";
import type { TenantQuota } from "./tenant-quota.ts";
import { clientPart, scopedId, toChatCompletion, toChatRequest, toSseEvents } from "./translate.ts";

export interface AccessLog {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface GatewayDeps {
  config: GatewayConfig;
  log: AccessLog;
  metrics: GatewayMetrics;
  auth: Authenticator;
  quota: TenantQuota;
  producer: RecordProducer;
  router: ReplyRouter;
  findReply(requestId: string): Promise<ChatReply | undefined>;
  webhooks: { register(rows: { requestId: string; tenantId: string; url: string }[]): Promise<void> };
  readiness(): Promise<ReadinessReport>;
  /** Publishing failed or succeeded: what /readyz reports for Kafka between probes. */
  onPublish(ok: boolean): void;
  assets: StaticAssets;
  openapi: unknown;
  clock?: () => number;
}

/** What the access log line of one request carries: never content, never a key (only its prefix). */
interface Trace {
  route: Route;
  tenant?: string;
  key_prefix?: string;
  request_id?: string;
  error_code?: string;
  /** Time spent on Kafka and the workers (publish to reply): `ms - wait_ms` is the gateway's own. */
  wait_ms?: number;
}

/** The gateway's whole HTTP surface as one request handler; main.ts puts it on an http or https server. */
export function createGatewayHandler(deps: GatewayDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const clock = deps.clock ?? Date.now;
  const { config, metrics } = deps;
  const baseHeaders = securityHeaders(config.http.tls !== undefined);

  return (req, res) => {
    const started = performance.now();
    const url = new URL(req.url ?? "/", "http://gateway");
    const trace: Trace = { route: routeOf(url.pathname) };
    for (const [k, v] of Object.entries({
      ...baseHeaders,
      ...corsHeaders(req.headers.origin, config.http.corsOrigins),
    }))
      res.setHeader(k, v);
    res.once("finish", () => {
      const seconds = (performance.now() - started) / 1000;
      const method = ["GET", "POST", "OPTIONS"].includes(req.method ?? "") ? (req.method as string) : "other";
      metrics.requests.inc({ route: trace.route, method, status: String(res.statusCode) });
      metrics.duration.observe({ route: trace.route }, seconds);
      deps.log.info(
        { ...trace, method, status: res.statusCode, ms: Math.round(seconds * 100_000) / 100 },
        "http request",
      );
    });
    handle(req, res, url, trace).catch((err: unknown) => {
      const e = err instanceof GatewayError ? err : new GatewayError("internal_error", "internal error");
      if (!(err instanceof GatewayError)) deps.log.error({ err, route: trace.route }, "unexpected error");
      trace.error_code = e.code;
      if (e.status === 429 || e.status === 403 || e.status === 404 || e.status === 400)
        metrics.refusals.inc({ code: e.code });
      if (!res.headersSent) sendError(res, e);
      else res.end();
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL, trace: Trace): Promise<void> {
    const method = req.method ?? "GET";
    if (method === "OPTIONS") {
      res.writeHead(204).end();
      return;
    }
    switch (trace.route) {
      case "/v1/chat/completions":
        return allow(method, "POST", () => chatCompletions(req, res, trace));
      case "/v1/requests":
        return allow(method, "POST", () => submitRequests(req, res, trace));
      case "/v1/requests/{id}":
        return allow(method, "GET", () => requestState(req, res, url, trace));
      case "/v1/models":
        return allow(method, "GET", async () => {
          const caller = await authenticate(req, trace);
          sendJson(res, 200, {
            object: "list",
            data: modelsOf(caller).map((id) => ({ id, object: "model", created: 0, owned_by: "chatq" })),
          });
        });
      case "/openapi.json":
        return allow(method, "GET", async () => sendJson(res, 200, deps.openapi));
      case "/metrics":
        return allow(method, "GET", async () => {
          const text = await metrics.registry.metrics();
          res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text);
        });
      case "/healthz":
        return allow(method, "GET", async () => sendJson(res, 200, { status: "ok" }));
      case "/readyz":
        return allow(method, "GET", async () => {
          const report = await deps.readiness();
          sendJson(res, report.status === "ready" ? 200 : 503, report);
        });
      case "/":
        return allow(method, "GET", async () => {
          const asset = deps.assets.get(url.pathname);
          if (asset === undefined) throw new GatewayError("not_found", `no such page: ${url.pathname}`);
          res.writeHead(200, {
            "content-type": asset.contentType,
            "content-length": String(asset.body.length),
          });
          res.end(asset.body);
        });
      default:
        throw new GatewayError("not_found", `no route ${method} ${url.pathname}`);
    }
  }

  async function allow(method: string, expected: string, run: () => Promise<void>): Promise<void> {
    if (method !== expected) throw new GatewayError("method_not_allowed", `use ${expected}`);
    await run();
  }

  async function authenticate(req: IncomingMessage, trace: Trace): Promise<Caller> {
    const key = bearerToken(req);
    if (key === undefined) {
      throw new GatewayError("missing_api_key", "no API key: send it as Authorization: Bearer <key>");
    }
    let caller: Caller | undefined;
    try {
      caller = await deps.auth.authenticate(key);
    } catch {
      throw new GatewayError("unavailable", "cannot check API keys right now (database unavailable)", {
        retryAfterSeconds: 1,
      });
    }
    if (caller === undefined) throw new GatewayError("invalid_api_key", "the API key is not valid");
    trace.tenant = caller.tenant.tenantId;
    trace.key_prefix = caller.keyPrefix;
    return caller;
  }

  async function readJson<S extends z.ZodType>(req: IncomingMessage, schema: S): Promise<z.infer<S>> {
    const body = await readBody(req, config.http.bodyLimitBytes, config.http.bodyTimeoutMs);
    let json: unknown;
    try {
      json = JSON.parse(body.toString("utf8"));
    } catch (err) {
      throw new GatewayError(
        "invalid_json",
        `the body is not JSON: ${err instanceof Error ? err.message.slice(0, 200) : "parse error"}`,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = issue?.path.join(".") ?? "";
      throw new GatewayError("invalid_request", `${param || "(body)"}: ${issue?.message ?? "invalid"}`, {
        param,
      });
    }
    return parsed.data;
  }

  function modelsOf(caller: Caller): string[] {
    const all = [...config.allowedModels];
    return caller.tenant.allowedModels.length === 0
      ? all
      : all.filter((m) => caller.tenant.allowedModels.includes(m));
  }

  function checkModel(caller: Caller, model: string): void {
    if (!config.allowedModels.has(model)) {
      throw new GatewayError("model_not_found", `the model ${model} does not exist or is not served here`, {
        param: "model",
      });
    }
    if (caller.tenant.allowedModels.length > 0 && !caller.tenant.allowedModels.includes(model)) {
      throw new GatewayError("model_not_allowed", `tenant ${caller.tenant.tenantId} may not use ${model}`, {
        param: "model",
      });
    }
  }

  async function checkBudget(caller: Caller): Promise<void> {
    const { tenant } = caller;
    if (tenant.dailyUsd === undefined && tenant.monthlyUsd === undefined) return;
    const reached = budgetReached(tenant, await deps.auth.spend(tenant.tenantId));
    if (reached !== undefined) {
      throw new GatewayError("budget_exceeded", `tenant ${tenant.tenantId} has spent its ${reached} budget`, {
        retryAfterSeconds: reached === "daily" ? secondsToNextUtcDay(clock()) : 3600,
      });
    }
  }

  async function admit(caller: Caller, request: ChatRequest): Promise<Permit | undefined> {
    const model = request.model ?? config.defaultModel;
    const maxTokens = request.params?.max_tokens ?? request.params?.max_completion_tokens;
    const { reservedTokens } = estimateRequestTokens(model, request.messages, maxTokens);
    return deps.quota.admit(caller.tenant, reservedTokens);
  }

  async function publish(requests: ChatRequest[], permits: (Permit | undefined)[]): Promise<void> {
    // No timer of our own: the producer gives up within the publish timeout. A send abandoned by a timer would go
    // on retrying inside the client and land after its caller got a 503, and the caller's retry (the openai SDK
    // sends no Idempotency-Key) would then be a second request, answered and paid for twice.
    try {
      await deps.producer.send(
        requests.map((r) => ({
          topic: config.topics.requests,
          key: r.conversation_id ?? r.request_id,
          value: JSON.stringify(r),
        })),
      );
      deps.onPublish(true);
    } catch {
      deps.onPublish(false);
      // Not sent, so its budget goes back. (Only a request the broker wrote but whose acknowledgement was lost
      // can land after this; an Idempotency-Key makes the client's retry of it safe.)
      for (const p of permits) p?.release();
      throw new GatewayError("kafka_unavailable", "chatq's queue is unavailable; retry later", {
        retryAfterSeconds: 1,
      });
    }
  }

  async function chatCompletions(req: IncomingMessage, res: ServerResponse, trace: Trace): Promise<void> {
    const caller = await authenticate(req, trace);
    const body = await readJson(req, ChatCompletionRequestSchema);
    checkModel(caller, body.model);
    const tenantId = caller.tenant.tenantId;
    const idempotencyKey = header(req, "idempotency-key");
    const conversation = header(req, "x-chatq-conversation-id");
    const request = toChatRequest(body, {
      tenantId,
      replyTopic: config.topics.replyTopic,
      requestId: scopedId(tenantId, idempotencyKey ?? randomUUID(), "Idempotency-Key"),
      conversationId:
        conversation === undefined ? undefined : scopedId(tenantId, conversation, "X-Chatq-Conversation-Id"),
    });
    trace.request_id = request.request_id;

    // A retried call finds the stored reply: no second request reaches Kafka, let alone the API.
    let reply =
      idempotencyKey === undefined
        ? undefined
        : await deps.findReply(request.request_id).catch(() => undefined);
    if (reply === undefined) {
      await checkBudget(caller);
      const permit = await admit(caller, request);
      const aborted = new AbortController();
      res.once("close", () => {
        if (!res.writableFinished) aborted.abort();
      });
      const waiting = deps.router.expect(request.request_id, config.replyTimeoutMs, aborted.signal);
      metrics.waiting.inc();
      const waitStarted = performance.now();
      try {
        await publish([request], [permit]).catch((err: unknown) => {
          waiting.cancel();
          throw err;
        });
        reply = await waiting.reply;
      } finally {
        metrics.waiting.dec();
        trace.wait_ms = Math.round((performance.now() - waitStarted) * 100) / 100;
      }
    }
    const completion = toChatCompletion(reply, body.model, clock());
    if (body.stream === true) {
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" });
      res.end(toSseEvents(completion, body.stream_options?.include_usage === true));
    } else {
      sendJson(res, 200, completion);
    }
  }

  async function submitRequests(req: IncomingMessage, res: ServerResponse, trace: Trace): Promise<void> {
    const caller = await authenticate(req, trace);
    const batch = await readJson(req, AsyncBatchSchema);
    const tenantId = caller.tenant.tenantId;
    const callbacks: { requestId: string; tenantId: string; url: string }[] = [];
    const requests: ChatRequest[] = batch.requests.map(({ callback_url, ...r }) => {
      const model = r.model ?? config.defaultModel;
      checkModel(caller, model);
      const request: ChatRequest = {
        ...r,
        model,
        tenant: tenantId,
        request_id: scopedId(tenantId, r.request_id ?? randomUUID(), "request_id"),
        priority: r.priority ?? "batch",
        created_at: new Date(clock()).toISOString(),
      };
      if (r.conversation_id !== undefined)
        request.conversation_id = scopedId(tenantId, r.conversation_id, "conversation_id");
      if (callback_url !== undefined)
        callbacks.push({ requestId: request.request_id, tenantId, url: callback_url });
      return request;
    });
    await checkBudget(caller);
    const permits: (Permit | undefined)[] = [];
    try {
      for (const r of requests) permits.push(await admit(caller, r));
    } catch (err) {
      for (const p of permits) p?.release();
      throw err;
    }
    // Registered before the publish: a reply can never be stored before its webhook is known.
    try {
      await deps.webhooks.register(callbacks);
    } catch {
      for (const p of permits) p?.release();
      throw new GatewayError("unavailable", "cannot register webhooks right now (database unavailable)", {
        retryAfterSeconds: 1,
      });
    }
    await publish(requests, permits);
    sendJson(res, 202, {
      object: "list",
      data: requests.map((r) => ({ id: clientPart(tenantId, r.request_id), status: "queued" })),
    });
  }

  async function requestState(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    trace: Trace,
  ): Promise<void> {
    const caller = await authenticate(req, trace);
    const tenantId = caller.tenant.tenantId;
    const id = decodeURIComponent(url.pathname.slice("/v1/requests/".length));
    const requestId = scopedId(tenantId, id, "id");
    trace.request_id = requestId;
    const reply = await deps.findReply(requestId).catch(() => {
      throw new GatewayError("unavailable", "cannot read replies right now (database unavailable)", {
        retryAfterSeconds: 1,
      });
    });
    if (reply === undefined) {
      // Not answered yet, or never submitted: the gateway cannot tell a request still in Kafka from none.
      sendJson(res, 200, { id, status: "pending" });
      return;
    }
    const { request_id: _scoped, conversation_id, ...rest } = reply;
    sendJson(res, 200, {
      ...rest,
      id,
      ...(conversation_id !== undefined && { conversation_id: clientPart(tenantId, conversation_id) }),
    });
  }
}

function routeOf(path: string): Route {
  switch (path) {
    case "/v1/chat/completions":
    case "/chat/completions":
      return "/v1/chat/completions";
    case "/v1/requests":
    case "/v1/models":
    case "/openapi.json":
    case "/metrics":
    case "/healthz":
    case "/readyz":
      return path;
    case "/":
    case "/index.html":
    case "/chat.js":
    case "/chat.css":
      return "/";
    default:
      return path.startsWith("/v1/requests/") ? "/v1/requests/{id}" : "other";
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

function secondsToNextUtcDay(nowMs: number): number {
  const next = new Date(nowMs);
  next.setUTCHours(24, 0, 0, 0);
  return Math.max(1, Math.ceil((next.getTime() - nowMs) / 1000));
}
