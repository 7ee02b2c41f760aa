import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChatReply } from "@chatq/contracts";
import type { FakeOpenAI } from "@chatq/fake-openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenarioDb } from "./harness/database.ts";
import { collect, createTopics, requestPublisher, testKafka, until } from "./harness/kafka-io.ts";
import { uniqueScenario } from "./harness/scenario.ts";
import { startTestFake } from "./harness/test-budget.ts";
import { metricValue, spawnWorker } from "./harness/worker-process.ts";

const user = (content: string) => [{ role: "user" as const, content }];

/** `pnpm chatq …` against a scenario's schema, as an operator would run it. */
function chatq(s: ReturnType<typeof uniqueScenario>, args: string[]): string {
  return execFileSync(process.execPath, ["services/cli/src/main.ts", ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", DATABASE_URL: s.services.databaseUrl, DATABASE_SCHEMA: s.schema },
  });
}

/** A route whose every conversation goes to `primary`, with `secondary` (weight 0) behind it in the chain. */
const routeFile = (primary: FakeOpenAI, secondary: FakeOpenAI, version = "v1") =>
  JSON.stringify({
    version,
    deployments: {
      primary: { model: "gpt-4o-mini", base_url: primary.url, api_key_env: "PRIMARY_KEY" },
      secondary: { model: "gpt-4o-mini", base_url: secondary.url, api_key_env: "SECONDARY_KEY" },
    },
    routes: {
      "chat-default": {
        variants: [
          { name: "main", deployment: "primary", weight: 100 },
          { name: "spare", deployment: "secondary", weight: 0 },
        ],
        fallbacks: ["secondary"],
      },
    },
  });

describe("routing through two OpenAI-compatible deployments", () => {
  let primary: FakeOpenAI;
  let secondary: FakeOpenAI;
  let dir: string;
  beforeAll(async () => {
    [primary, secondary] = await Promise.all([
      startTestFake({ latencyMs: 10 }),
      startTestFake({ latencyMs: 10 }),
    ]);
    dir = mkdtempSync(join(tmpdir(), "chatq-routing-test-"));
  });
  afterAll(async () => {
    await Promise.all([primary?.close(), secondary?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers from the secondary while the primary returns 503, says so in each reply, returns to the primary when it recovers, and keeps serving through a broken route file", async () => {
    const s = uniqueScenario("route-fallback");
    const kafka = testKafka(s);
    await createTopics(kafka, s);
    const replies = await collect(kafka, s.topics.replies, s.id);
    const publisher = await requestPublisher(kafka, s);
    const routes = join(dir, `${s.id}.json`);
    writeFileSync(routes, routeFile(primary, secondary));
    primary.configure({ outage: { kind: "server_error", status: 503 } });
    const worker = spawnWorker(s, primary.url, {
      ROUTES_FILE: routes,
      ROUTES_POLL_MS: "200",
      PRIMARY_KEY: "sk-chatq-test",
      SECONDARY_KEY: "sk-chatq-test",
      OPENAI_RETRY_BASE_MS: "20",
      OPENAI_RETRY_MAX_MS: "100",
      CIRCUIT_PROBE_MAX_INTERVAL_MS: "500",
    });
    const db = scenarioDb(s);
    const byId = () => new Map(replies.replies().map((r) => [r.request_id, r]));
    const ask = async (id: string) => {
      await publisher.publish([
        { request_id: id, conversation_id: `conv-${id}`, model: "chat-default", messages: user(`hi ${id}`) },
      ]);
    };
    const answerTo = async (id: string): Promise<ChatReply> => {
      await until(
        () => byId().has(id),
        60_000,
        () => `no reply to ${id}`,
      );
      return byId().get(id) as ChatReply;
    };
    try {
      const metricsUrl = await worker.metricsUrl;
      const down = Array.from({ length: 20 }, (_, i) => `${s.id}-down-${i}`);
      for (const id of down) await ask(id);
      await replies.waitForRequests(down.length);
      for (const id of down) {
        const r = byId().get(id);
        expect(r, id).toMatchObject({
          status: "completed",
          route: "chat-default",
          variant: "main",
          deployment: "secondary",
        });
        expect(r?.fallbacks?.[0]?.from, id).toBe("primary");
      }
      expect(secondary.stats().completions_total).toBeGreaterThanOrEqual(down.length);
      expect(
        await metricValue(metricsUrl, "chatq_route_fallbacks_total", { from: "primary" }),
      ).toBeGreaterThan(0);
      const rows = await db.query<{
        deployment: string;
        fallback_reason: string;
        price_version: string;
        model: string;
      }>("select deployment, fallback_reason, price_version, model from usage where route = 'chat-default'");
      expect(rows).toHaveLength(down.length);
      for (const row of rows) {
        expect(row.deployment).toBe("secondary");
        expect(row.fallback_reason).toMatch(/^primary:(circuit_open)$/);
        expect(row.model).toBe("gpt-4o-mini");
        expect(row.price_version).toMatch(/^\d{4}-\d{2}-\d{2}/);
      }

      // The primary recovers: its circuit lets one trial through, and from then on traffic is back on it.
      primary.configure({ outage: null });
      let probe = 0;
      for (;;) {
        const id = `${s.id}-probe-${probe++}`;
        await ask(id);
        if ((await answerTo(id)).deployment === "primary") break;
        expect(probe, "traffic never returned to the primary").toBeLessThan(200);
      }
      const back = Array.from({ length: 10 }, (_, i) => `${s.id}-back-${i}`);
      for (const id of back) await ask(id);
      for (const id of back) {
        const r = await answerTo(id);
        expect(r, id).toMatchObject({ status: "completed", deployment: "primary" });
        expect(r.fallbacks, id).toBeUndefined();
      }

      // A broken route file is refused at reload (logged, counted) and the old table keeps serving.
      writeFileSync(
        routes,
        routeFile(primary, secondary, "v2").replace('"deployment":"primary"', '"deployment":"nowhere"'),
      );
      await until(
        () => worker.logs.some((l) => l.msg === "route file refused; the previous table keeps serving"),
        30_000,
        () => "the broken route file was not refused",
      );
      const refused = worker.logs.find(
        (l) => l.msg === "route file refused; the previous table keeps serving",
      );
      expect(JSON.stringify(refused?.problems)).toContain('unknown deployment \\"nowhere\\"');
      expect(
        await metricValue(metricsUrl, "chatq_route_reloads_total", { result: "refused" }),
      ).toBeGreaterThan(0);
      const after = `${s.id}-after-bad-file`;
      await ask(after);
      expect(await answerTo(after)).toMatchObject({
        status: "completed",
        route: "chat-default",
        deployment: "primary",
      });
      expect(await worker.stop()).toBe(0);
    } finally {
      primary.configure({ outage: null });
      await worker.stop("SIGKILL");
      await Promise.all([replies.close(), publisher.close()]);
      await db.drop();
    }
  });

  it("refuses a tenant at its budget with budget_exceeded and no API call, and leaves another tenant alone", async () => {
    const s = uniqueScenario("route-budget");
    const kafka = testKafka(s);
    await createTopics(kafka, s);
    const replies = await collect(kafka, s.topics.replies, s.id);
    const publisher = await requestPublisher(kafka, s);
    const budgets = join(dir, `${s.id}-budgets.json`);
    // Any answer costs more than a millionth of a cent: one request spends the whole day's budget.
    writeFileSync(
      budgets,
      JSON.stringify({ tenants: { broke: { daily_usd: 1e-8 }, rich: { daily_usd: 1000 } } }),
    );
    const worker = spawnWorker(s, primary.url, { BUDGETS_FILE: budgets, BUDGET_METRIC_TENANTS: "broke" });
    const db = scenarioDb(s);
    try {
      const metricsUrl = await worker.metricsUrl;
      // One conversation per tenant: its turns run in order, so the second is admitted after the first is charged.
      await publisher.publish([
        {
          request_id: `${s.id}-broke-1`,
          conversation_id: `${s.id}-b`,
          tenant: "broke",
          messages: user("one"),
        },
        {
          request_id: `${s.id}-broke-2`,
          conversation_id: `${s.id}-b`,
          tenant: "broke",
          messages: user("two"),
        },
        { request_id: `${s.id}-rich-1`, conversation_id: `${s.id}-r`, tenant: "rich", messages: user("one") },
        { request_id: `${s.id}-rich-2`, conversation_id: `${s.id}-r`, tenant: "rich", messages: user("two") },
      ]);
      await replies.waitForRequests(4);
      const byId = new Map(replies.replies().map((r) => [r.request_id, r]));
      expect(byId.get(`${s.id}-broke-1`)?.status).toBe("completed");
      expect(byId.get(`${s.id}-broke-2`)).toMatchObject({
        status: "rejected",
        attempts: 0,
        error: { code: "budget_exceeded", retryable: true },
      });
      expect(byId.get(`${s.id}-broke-2`)?.error?.message).toMatch(
        /daily budget .* resets at \d{4}-\d{2}-\d{2}T00:00/,
      );
      expect(byId.get(`${s.id}-rich-1`)?.status).toBe("completed");
      expect(byId.get(`${s.id}-rich-2`)?.status).toBe("completed");
      // No API call for the refused one.
      expect(primary.stats().completions_by_client_request_id[`${s.id}-broke-2`]).toBeUndefined();
      const attempts = await db.query(
        "select 1 from audit_log where request_id = $1 and event = 'attempt_started'",
        [`${s.id}-broke-2`],
      );
      expect(attempts).toHaveLength(0);
      expect(
        await metricValue(metricsUrl, "chatq_tenant_budget_decisions_total", {
          tenant: "broke",
          decision: "reject",
        }),
      ).toBe(1);
      // Tenants off the allow-list are counted as "other": metric labels stay bounded.
      expect(
        await metricValue(metricsUrl, "chatq_tenant_budget_decisions_total", {
          tenant: "other",
          decision: "admit",
        }),
      ).toBe(2);
      expect(await worker.stop()).toBe(0);

      // Spend per tenant by day, from the ledger: the refused request cost nothing.
      const rows = JSON.parse(chatq(s, ["spend", "--tenant", "broke", "--since", "1d", "--json"])) as {
        requests: number;
        costUsd: number;
      }[];
      expect(rows.reduce((a, r) => a + r.requests, 0)).toBe(1);
      expect(rows[0]?.costUsd).toBeGreaterThan(0);
    } finally {
      await worker.stop("SIGKILL");
      await Promise.all([replies.close(), publisher.close()]);
      await db.drop();
    }
  });
});
