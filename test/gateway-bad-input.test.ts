import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { migrate } from "@chatq/store";
import type { TenantStore } from "@chatq/tenants";
import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { type GatewayProcess, scenarioTenants, spawnGateway } from "./harness/gateway-process.ts";
import { createTopics, testKafka } from "./harness/kafka-io.ts";
import { type Scenario, uniqueScenario } from "./harness/scenario.ts";

const BODY_LIMIT = 4096;
let s: Scenario;
let kafka: Kafka;
let gateway: GatewayProcess;
let tenants: TenantStore;
let url: string;
let key: string;

beforeAll(async () => {
  s = uniqueScenario("gateway_bad_input");
  kafka = testKafka(s);
  await createTopics(kafka, s);
  await migrate({ databaseUrl: s.services.databaseUrl, schema: s.schema });
  tenants = scenarioTenants(s);
  await tenants.createTenant({ tenantId: "acme", allowedModels: ["gpt-4o-mini"] });
  key = (await tenants.createKey("acme")).key;
  gateway = spawnGateway(s, {
    GATEWAY_BODY_LIMIT_BYTES: String(BODY_LIMIT),
    GATEWAY_BODY_TIMEOUT_MS: "1000",
    GATEWAY_HEADERS_TIMEOUT_MS: "1000",
  });
  url = await gateway.url;
});

afterAll(async () => {
  await gateway?.stop();
  await tenants?.close();
  await scenarioDb(s).drop();
});

const ERROR_SHAPE = {
  error: {
    message: expect.any(String),
    type: expect.any(String),
    param: expect.toBeOneOf([null, expect.any(String)]),
    code: expect.any(String),
  },
};

async function post(body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body,
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as { error: { code: string; param: string | null } },
  };
}

const good = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] };

describe("bad input gets the right status and OpenAI's error shape, and nothing reaches Kafka", () => {
  it("malformed JSON → 400 invalid_json", async () => {
    const r = await post('{"model": "gpt-4o-mini", "messages": [');
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject(ERROR_SHAPE);
    expect(r.body.error.code).toBe("invalid_json");
  });

  it.each([
    [{ ...good, messages: "hi" }, "messages"],
    [{ ...good, temperature: "hot" }, "temperature"],
    [{ ...good, messages: [{ role: "wizard", content: "hi" }] }, "messages.0.role"],
    [{ ...good, messages: [] }, "messages"],
    [{ messages: good.messages }, "model"],
    [{ ...good, n: 3 }, "n"],
  ])("wrong types → 400 invalid_request naming the field (%j)", async (body, param) => {
    const r = await post(JSON.stringify(body));
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject(ERROR_SHAPE);
    expect(r.body.error).toMatchObject({ code: "invalid_request", param });
  });

  it("an oversize body → 413, declared or streamed", async () => {
    const big = JSON.stringify({ ...good, messages: [{ role: "user", content: "x".repeat(BODY_LIMIT) }] });
    const declared = await post(big);
    expect(declared.status).toBe(413);
    expect(declared.body).toMatchObject(ERROR_SHAPE);
    // No content-length: chunked, counted as it arrives.
    const chunked = await rawRequest(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key}\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`,
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 413/);
    expect(chunked).toContain('"code":"payload_too_large"');
  });

  it("an unknown model → 404 model_not_found; one the tenant may not use → 403", async () => {
    const unknown = await post(JSON.stringify({ ...good, model: "gpt-17-ultra" }));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: "model_not_found", param: "model" });
    const notAllowed = await post(JSON.stringify({ ...good, model: "gpt-4o" }));
    expect(notAllowed.status).toBe(403);
    expect(notAllowed.body.error.code).toBe("model_not_allowed");
  });

  it("missing or bad auth → 401", async () => {
    const missing = await post(JSON.stringify(good), { authorization: "" });
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe("missing_api_key");
    const bad = await post(JSON.stringify(good), { authorization: "Bearer sk-not-a-chatq-key" });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject(ERROR_SHAPE);
    expect(bad.body.error.code).toBe("invalid_api_key");
  });

  it("bad chatq headers → 400", async () => {
    const r = await post(JSON.stringify(good), { "idempotency-key": "has spaces and / slashes" });
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe("Idempotency-Key");
  });

  it("a slow-loris body → 408 in OpenAI's shape; slow headers → 408 and the connection closed", async () => {
    const body = JSON.stringify(good);
    const trickled = await rawRequest(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    expect(trickled).toMatch(/^HTTP\/1\.1 408/);
    expect(trickled).toContain('"code":"request_timeout"');
    const slowHeaders = await rawRequest("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n");
    expect(slowHeaders).toMatch(/^HTTP\/1\.1 408/);
  });

  it("unknown routes → 404, wrong methods → 405, both in OpenAI's shape", async () => {
    const nowhere = await fetch(`${url}/v1/nowhere`);
    expect(nowhere.status).toBe(404);
    expect(await nowhere.json()).toMatchObject(ERROR_SHAPE);
    const get = await fetch(`${url}/v1/chat/completions`);
    expect(get.status).toBe(405);
  });

  it("sent nothing to Kafka", async () => {
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(s.topics.requests);
    await admin.disconnect();
    expect(offsets.map((o) => Number(o.high)).reduce((a, b) => a + b, 0)).toBe(0);
  });
});

describe("the rest of the surface", () => {
  it("serves the committed OpenAPI document, health, readiness, metrics, and security headers", async () => {
    const doc = await fetch(`${url}/openapi.json`);
    const committed = JSON.parse(
      readFileSync(resolve(import.meta.dirname, "../services/gateway/openapi.json"), "utf8"),
    );
    expect(await doc.json()).toEqual(committed);
    expect(doc.headers.get("x-content-type-options")).toBe("nosniff");
    expect(doc.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(await ready.json()).toMatchObject({
      status: "ready",
      checks: { kafka: { ok: true }, postgres: { ok: true } },
    });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(
      /chatq_gateway_http_requests_total\{route="\/v1\/chat\/completions",method="POST",status="400"\} \d+/,
    );
  });

  it("logs no key and no content", () => {
    const out = gateway.output();
    expect(out).not.toContain(key);
    expect(out).not.toContain(key.split("_")[2]);
    expect(out).not.toContain('"content"');
    expect(gateway.logs.some((l) => l.msg === "http request" && l.key_prefix === key.slice(0, 11))).toBe(
      true,
    );
  });
});

describe("TLS", () => {
  it("serves HTTPS with TLS 1.2 at least and HSTS when GATEWAY_TLS_CERT/KEY are set", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chatq-gateway-tls-"));
    const [cert, certKey] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        certKey,
        "-out",
        cert,
      ],
      { stdio: "ignore" },
    );
    const tls = spawnGateway(s, {
      GATEWAY_TLS_CERT: cert,
      GATEWAY_TLS_KEY: certKey,
      GATEWAY_INSTANCE_ID: "gw-tls",
    });
    try {
      const tlsUrl = await tls.url;
      expect(tlsUrl).toMatch(/^https:/);
      const ca = readFileSync(cert);
      const got = await new Promise<{ status: number; hsts: string | undefined }>((done, fail) => {
        httpsGet(`${tlsUrl}/healthz`, { ca }, (res) => {
          res.resume();
          done({
            status: res.statusCode ?? 0,
            hsts: res.headers["strict-transport-security"] as string | undefined,
          });
        }).on("error", fail);
      });
      expect(got).toEqual({ status: 200, hsts: expect.stringContaining("max-age=") });
      const { port } = new URL(tlsUrl);
      const old = await new Promise<string>((done) => {
        const socket = tlsConnect(
          { port: Number(port), host: "127.0.0.1", ca, maxVersion: "TLSv1.1", minVersion: "TLSv1" },
          () => done(`connected with ${socket.getProtocol()}`),
        );
        socket.on("error", (err) => done(`refused: ${err.message}`));
      });
      expect(old).toMatch(/^refused/);
    } finally {
      await tls.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Writes `text` on a raw connection and returns whatever comes back before the server closes it (or 5 s). */
function rawRequest(text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket: Socket = connect(Number(port), hostname, () => socket.write(text));
    let got = "";
    const done = () => resolve(got);
    socket.on("data", (d) => {
      got += d.toString("utf8");
    });
    socket.on("close", done);
    socket.on("error", done);
    setTimeout(() => socket.destroy(), 5_000);
  });
}
