import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { FakeOpenAI } from "@chatq/fake-openai";
import type { TenantStore } from "@chatq/tenants";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import {
  type GatewayProcess,
  scenarioTenants,
  spawnGateway,
  workerEnvForGateways,
} from "./harness/gateway-process.ts";
import { createTopics, testKafka } from "./harness/kafka-io.ts";
import { type Scenario, uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { spawnWorker, type WorkerProcess } from "./harness/worker-process.ts";

/** Where screenshots go (gitignored); infra/scripts/ensure-chromium.sh installs the browser. */
const ARTIFACTS = resolve(import.meta.dirname, "../test-artifacts");
const OPENAI_KEY = "sk-chatq-test"; // what the harness gives the worker
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let s: Scenario;
let fake: FakeOpenAI;
let worker: WorkerProcess;
let gateway: GatewayProcess;
let tenants: TenantStore;
let url: string;
let key: string;
let userDataDir: string;

beforeAll(async () => {
  s = uniqueScenario("gateway_page");
  fake = await startTestFake({ latencyMs: 50 });
  await createTopics(testKafka(s), s);
  worker = spawnWorker(s, fake.url, workerEnvForGateways(s));
  await worker.metricsUrl;
  gateway = spawnGateway(s);
  url = await gateway.url;
  tenants = scenarioTenants(s);
  await tenants.createTenant({ tenantId: "web" });
  key = (await tenants.createKey("web")).key;
  userDataDir = mkdtempSync(join(tmpdir(), "chatq-chromium-"));
});

afterAll(async () => {
  await gateway?.stop();
  await worker?.stop();
  await tenants?.close();
  await fake?.close();
  await scenarioDb(s).drop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

it("a person signs in on the chat page, has a two-turn conversation, and the browser never sees the OpenAI key", async () => {
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    args: CHROMIUM_FLAGS,
    viewport: { width: 390, height: 844 }, // a phone
  });
  const bodies: Promise<string>[] = [];
  const hosts = new Set<string>();
  context.on("response", (response) => {
    hosts.add(new URL(response.url()).host);
    bodies.push(response.text().catch(() => ""));
  });
  try {
    const page = await context.newPage();
    await page.goto(url);
    // Driven by labels and roles, as a screen reader or keyboard user would find them.
    await page.getByLabel("Tenant API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    const message = page.getByLabel("Your message");
    await message.fill("Plan a day in Lisbon");
    await message.press("Enter");
    await expect.poll(() => page.locator("#log li.assistant").count(), { timeout: 60_000 }).toBe(1);
    await message.fill("And the evening?");
    await page.getByRole("button", { name: "Send" }).click();
    await expect.poll(() => page.locator("#log li.assistant").count(), { timeout: 60_000 }).toBe(2);
    const replies = await page.locator("#log li.assistant").allTextContents();
    expect(replies[0]).toContain("Plan a day in Lisbon");
    // The second turn was answered with the stored history of the first.
    expect(replies[1]).toContain("Echo (turn 2): And the evening?");
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "gateway-chat-page.png"), fullPage: true });

    const received = await Promise.all(bodies);
    expect(received.length).toBeGreaterThan(4);
    for (const body of received) expect(body).not.toContain(OPENAI_KEY);
    expect([...hosts]).toEqual([new URL(url).host]); // the page talks to the gateway only
  } finally {
    await context.close();
  }
});
