import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { createKafka, createRecordProducer } from "@chatq/kafka";
import { createStore } from "@chatq/store";
import { evaluateReadiness, type Logger } from "@chatq/telemetry";
import { Authenticator, TenantStore } from "@chatq/tenants";
import { loadKeyWrapper } from "@chatq/vault";
import type { GatewayConfig } from "./config.ts";
import { createGatewayHandler } from "./gateway-app.ts";
import { createGatewayMetrics } from "./gateway-metrics.ts";
import { InstanceRegistry } from "./instance-registry.ts";
import { openApiDocument } from "./openapi.ts";
import { ReplyRouter } from "./reply-router.ts";
import { loadChatPage } from "./static-assets.ts";
import { TenantQuota } from "./tenant-quota.ts";
import { WebhookDeliverer } from "./webhook-deliverer.ts";

export interface RunningGateway {
  url: string;
  stop(): Promise<void>;
}

/** How long a clean stop lets calls already waiting for their reply finish. */
const DRAIN_MS = 10_000;

/** The composition root: builds the parts in order, and stops them in reverse. */
export async function startGateway(config: GatewayConfig, log: Logger): Promise<RunningGateway> {
  const closers: (() => Promise<void>)[] = [];
  const onError = (err: unknown) => log.warn({ err }, "background error");
  try {
    const kafka = createKafka({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, log });
    const tenants = new TenantStore({
      databaseUrl: config.database.url,
      schema: config.database.schema,
      pepper: config.keyPepper,
    });
    closers.push(() => tenants.close());
    const wrapper = await loadKeyWrapper(config.encryption);
    const store = await createStore({
      ...(wrapper !== undefined && { encryption: { wrapper } }),
      databaseUrl: config.database.url,
      ...(config.database.schema !== undefined && { schema: config.database.schema }),
      poolSize: 4,
      applicationName: "chatq-gateway",
      onError,
    });
    closers.push(() => store.close());
    // A 503 must mean "not sent": the producer itself gives up within the publish timeout (see publish()).
    const producer = await createRecordProducer(kafka, { giveUpAfterMs: config.publishTimeoutMs });
    closers.push(() => producer.disconnect());
    const registry = new InstanceRegistry(kafka, {
      instanceId: config.instanceId,
      replyTopic: config.topics.replyTopic,
      replyTopicPrefix: config.topics.replyTopicPrefix,
      ttlMs: config.instanceTtlMs,
      databaseUrl: config.database.url,
      schema: config.database.schema,
      onError,
    });
    await registry.start();
    closers.push(() => registry.stop());
    const router = new ReplyRouter(kafka, {
      topic: config.topics.replyTopic,
      groupId: `chatq-${config.instanceId}`,
    });
    closers.push(() => router.stop());
    await router.start();
    const quota = new TenantQuota({ redis: config.redis, maxWaitMs: config.quotaWaitMs, onError });
    closers.push(() => quota.close());
    const webhooks = new WebhookDeliverer({
      databaseUrl: config.database.url,
      schema: config.database.schema,
      pepper: config.keyPepper,
      ...config.webhooks,
      openContent: (id, content) => store.openReplyContent(id, content),
      onError,
    });
    webhooks.start();
    closers.push(() => webhooks.stop());

    let kafkaOk = true;
    const admin = kafka.admin();
    await admin.connect();
    closers.push(() => admin.disconnect());
    const handler = createGatewayHandler({
      config,
      log,
      metrics: createGatewayMetrics(),
      auth: new Authenticator(tenants, { ttlMs: config.keyCacheMs }),
      quota,
      producer,
      router,
      findReply: (id) => store.findReply(id),
      webhooks,
      onPublish: (ok) => {
        kafkaOk = ok;
      },
      readiness: () =>
        evaluateReadiness({
          postgres: async () => {
            await store.ping();
            return { ok: true };
          },
          kafka: async () => {
            await admin.describeCluster();
            return router.healthy
              ? { ok: true, ...(!kafkaOk && { detail: "last publish failed" }) }
              : { ok: false, detail: "reply consumer stopped" };
          },
        }),
      assets: loadChatPage(),
      openapi: openApiDocument(),
    });
    // Node checks the header and request deadlines only this often (30 s by default): a slow-loris client would
    // hold its connection that long.
    const connectionsCheckingInterval = Math.min(1_000, config.http.headersTimeoutMs);
    const server: Server = config.http.tls
      ? createHttpsServer(
          {
            cert: readFileSync(config.http.tls.certFile),
            key: readFileSync(config.http.tls.keyFile),
            minVersion: "TLSv1.2",
            connectionsCheckingInterval,
          },
          handler,
        )
      : createHttpServer({ connectionsCheckingInterval }, handler);
    // Slow loris: headers must arrive within headersTimeout, the whole request within requestTimeout (the body's own
    // deadline, GATEWAY_BODY_TIMEOUT_MS, answers first, in OpenAI's error shape).
    server.headersTimeout = config.http.headersTimeoutMs;
    server.requestTimeout = config.http.headersTimeoutMs + config.http.bodyTimeoutMs + 1_000;
    server.maxHeadersCount = 100;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.http.port, config.http.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const url = `${config.http.tls ? "https" : "http"}://127.0.0.1:${port}`;
    log.info(
      {
        port,
        url,
        instance: config.instanceId,
        reply_topic: config.topics.replyTopic,
        tls: config.http.tls !== undefined,
      },
      "gateway started",
    );

    let stopped: Promise<void> | undefined;
    return {
      url,
      stop: () => {
        stopped ??= (async () => {
          // Stop taking calls, let those waiting for a reply get it, then take down in reverse order.
          const closed = new Promise<void>((r) => server.close(() => r()));
          server.closeIdleConnections();
          const deadline = Date.now() + DRAIN_MS;
          while (router.waiting > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
          server.closeAllConnections();
          await closed;
          for (const close of closers.reverse()) await close().catch(onError);
        })();
        return stopped;
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => {});
    throw err;
  }
}
