import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ChatRequest } from "@chatq/contracts";
import { type FakeOpenAI, startFakeOpenAI } from "@chatq/fake-openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { scenarioDb } from "./harness/database.ts";
import {
  collect,
  createTopics,
  type RequestPublisher,
  requestPublisher,
  testKafka,
} from "./harness/kafka-io.ts";
import {
  ensurePrometheus,
  type PrometheusServer,
  PromQLError,
  promtoolCheckMetrics,
  rulesForFastAlerts,
  sampleValues,
  startPrometheus,
} from "./harness/prometheus.ts";
import { type Scenario, uniqueScenario } from "./harness/scenario.ts";
import { metricValue, spawnWorker, type WorkerProcess } from "./harness/worker-process.ts";

// What SREs see, live: a real Prometheus scrapes a real worker while it answers a few hundred requests from the
// fake OpenAI API (with 5xx, 429s, permanent 400s, malformed messages, producer retries and an exhausted
// per-minute budget). Every dashboard query and rule expression must evaluate, the dashboard must show what the
// load did, and each alert must fire once its condition is caused. test/observability-files.test.ts checks the
// same files statically (promtool check config/rules, rule unit tests); this file checks them against real data.

const root = resolve(import.meta.dirname, "..");
const rulesFile = join(root, "infra/prometheus/alerts/chatq.rules.yml");
const dashboardFile = join(root, "infra/grafana/dashboards/chatq.json");
/** The job name the rules and the dashboard select `up` by (up{job="chatq-worker"}). */
const JOB = "chatq-worker";
const API_KEY = "sk-chatq-test";
const MODEL = "gpt-4o-mini";

// --- the dashboard's queries, as Grafana would send them ---------------------------------------------------

interface Panel {
  id?: number;
  title?: string;
  targets?: { expr?: string; refId?: string }[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; allValue?: string }[] };
}
interface DashboardQuery {
  /** `<panel title> <refId>`: how the lists below name a query. */
  name: string;
  expr: string;
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** Every panel query of the dashboard, its variables expanded as Grafana would with "All" selected. */
async function dashboardQueries(): Promise<DashboardQuery[]> {
  const d = JSON.parse(await readFile(dashboardFile, "utf8")) as Dashboard;
  const allValues = new Map(d.templating.list.map((v) => [v.name, v.allValue ?? ".*"]));
  return allPanels(d.panels).flatMap((p) =>
    (p.targets ?? []).flatMap((t) =>
      t.expr === undefined
        ? []
        : [{ name: `${p.title} ${t.refId}`, expr: expandGrafanaVariables(t.expr, allValues) }],
    ),
  );
}

/**
 * Grafana expands variables before Prometheus sees a query. Template variables get their "All" value (the
 * dashboard's allValue, `.*`), as on a fresh dashboard; interval variables get 2m, which covers the whole load
 * (Grafana's $__rate_interval is 4 scrape intervals, which here would only see the seconds after the load).
 * An unknown variable throws, so a new one gets a value chosen here instead of a silent `.*`.
 */
function expandGrafanaVariables(expr: string, allValues: Map<string, string>): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b/g, "2m")
    .replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (m, braced: string | undefined, bare: string | undefined) => {
      const value = allValues.get(braced ?? bare ?? "");
      if (value === undefined) throw new Error(`dashboard variable ${m} has no value in this test`);
      return value;
    });
}

/**
 * Queries that may legitimately return no series after this test's load, and why. Any other empty query fails
 * the test: an empty panel an SRE looks at during an incident reads as "all fine". (They may also have data: a
 * transient Kafka error during a rebalance on the shared broker is not a failure of this test.)
 */
const MAY_BE_EMPTY: Record<string, string> = {
  "Postgres and Kafka errors A":
    "chatq_postgres_errors_total{operation} has no series until a Postgres operation fails; none is made to",
  "Postgres and Kafka errors B":
    "chatq_kafka_errors_total{operation} has no series until a Kafka operation fails; none is made to",
};

/** What an SRE must see on the dashboard after this test's load: a panel query (or a gauge's recent peak). */
const SHOWS_ACTIVITY: (({ panel: string } | { expr: string }) & {
  series?: Record<string, string>;
  why: string;
})[] = [
  { panel: "Requests per second B", why: "requests were completed" },
  {
    panel: "Completed per model A",
    series: { model: MODEL },
    why: "the default model answered them",
  },
  {
    panel: "Failures by error class A",
    series: { error_class: "bad_request" },
    why: "[[fail:400]] requests failed",
  },
  {
    panel: "OpenAI attempts and retries B",
    series: { reason: "server_error" },
    why: "[[fail:503x1]] requests were retried",
  },
  { panel: "429s from OpenAI A", why: "OpenAI answered 429" },
  { panel: "Requests per second E", why: "producer retries were answered from the stored reply" },
  ...["not_json", "schema", "empty_messages"].flatMap((reason) => [
    { panel: "Rejected by reason A", series: { reason }, why: `${reason} messages were rejected` },
    { panel: "Dead letters by reason A", series: { reason }, why: `${reason} messages were dead-lettered` },
  ]),
  // Gauges are back to 0 once the load is over: their peak during it is what an SRE saw on the panel.
  {
    expr: "max by (reason) (max_over_time(chatq_consumption_paused[2m]))",
    series: { reason: "ratelimit" },
    why: "consumption paused at RATELIMIT_MAX_QUEUED",
  },
  { expr: "max(max_over_time(chatq_ratelimit_queue_depth[2m]))", why: "requests queued for budget" },
];

/**
 * promtool findings in prom-client's own Node default metrics, which chatq cannot rename: gauges named *_total
 * (open upstream: https://github.com/prometheus/client_js/issues/283). Every other finding fails the test.
 */
const PROM_CLIENT_LINT = [
  "nodejs_active_handles_total non-counter",
  "nodejs_active_requests_total non-counter",
  "nodejs_active_resources_total non-counter",
];

// --- the load ------------------------------------------------------------------------------------------------

const REQUESTS = 300;
/** The fake's per-minute request budget: the load overruns it, so OpenAI's remaining budget really runs out. */
const FAKE_RPM = 240;

const user = (content: string) => [{ role: "user" as const, content }];

/** 10% fail for good (400), 10% need one retry after a 503, 5% after a 429; a third are batch priority. */
function requestLoad(s: Scenario): ChatRequest[] {
  return Array.from({ length: REQUESTS }, (_, i) => {
    const marker =
      i % 10 === 0 ? "[[fail:400]]" : i % 10 === 1 ? "[[fail:503x1]]" : i % 20 === 2 ? "[[fail:429x1]]" : "";
    return {
      request_id: `${s.id}-${i}`,
      priority: i % 3 === 0 ? "batch" : "interactive",
      messages: user(`${s.id} request ${i} ${marker}`),
      params: { max_tokens: 16 },
    };
  });
}

/** Messages no worker can process: each goes to the DLQ; those with a request id also get a rejected reply. */
function malformedLoad(s: Scenario): { reason: string; key: string; value: string; requestId?: string }[] {
  return [
    ...Array.from({ length: 4 }, (_, i) => ({ reason: "not_json", key: `nj-${i}`, value: `{not json ${i}` })),
    ...Array.from({ length: 3 }, (_, i) => ({
      reason: "schema",
      key: `sc-${i}`,
      value: JSON.stringify({ messages: user(`no request id ${i}`) }),
    })),
    ...Array.from({ length: 3 }, (_, i) => ({
      reason: "empty_messages",
      key: `em-${i}`,
      requestId: `${s.id}-empty-${i}`,
      value: JSON.stringify({ request_id: `${s.id}-empty-${i}`, messages: [] }),
    })),
  ];
}

// --- helpers -------------------------------------------------------------------------------------------------

async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${last})` : ""}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Waits until every named alert fires, calling `meanwhile` between polls; returns each one's state (firing,
 * pending or inactive) so that a timeout shows how far each got.
 */
async function waitForFiring(
  prom: PrometheusServer,
  names: string[],
  timeoutMs: number,
  meanwhile: () => Promise<void> = async () => {},
): Promise<Record<string, string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alerts = await prom.alerts();
    const stateOf = (name: string) =>
      alerts.some((a) => a.labels.alertname === name && a.state === "firing")
        ? "firing"
        : (alerts.find((a) => a.labels.alertname === name)?.state ?? "inactive");
    if (names.every((n) => stateOf(n) === "firing") || Date.now() > deadline)
      return Object.fromEntries(names.map((n) => [n, stateOf(n)]));
    await meanwhile();
    await new Promise((r) => setTimeout(r, 500));
  }
}

const allFiring = (names: string[]) => Object.fromEntries(names.map((n) => [n, "firing"]));

/** A vector query's single value, or undefined while it has no series. */
async function scalarOf(prom: PrometheusServer, expr: string): Promise<number | undefined> {
  const values = sampleValues(await prom.query(expr));
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
}

// --- the test ------------------------------------------------------------------------------------------------

describe("what SREs see, live: Prometheus scraping a worker under load", () => {
  const s = uniqueScenario("obs");
  const kafka = testKafka(s);
  let fake: FakeOpenAI;
  let worker: WorkerProcess;
  let prom: PrometheusServer;
  let publisher: RequestPublisher;
  let replies: Awaited<ReturnType<typeof collect>>;
  let dlq: Awaited<ReturnType<typeof collect>>;
  let metricsUrl: string;
  let instance: string;
  let rules: { alert?: string; record?: string; expr: string }[];

  beforeAll(async () => {
    await ensurePrometheus();
    const rulesText = await readFile(rulesFile, "utf8");
    rules = (parseYaml(rulesText) as { groups: { rules: typeof rules }[] }).groups.flatMap((g) => g.rules);

    // A TPM far above the load, so OpenAI's token headers (and the dashboard's token limit line) are there too.
    fake = await startFakeOpenAI({
      apiKey: API_KEY,
      latencyMs: 30,
      jitterMs: 10,
      rpm: FAKE_RPM,
      tpm: 1_000_000,
    });
    await createTopics(kafka, s);
    replies = await collect(kafka, s.topics.replies, s.id);
    dlq = await collect(kafka, s.topics.deadLetter, s.id);
    publisher = await requestPublisher(kafka, s);
    worker = spawnWorker(s, fake.url, {
      // chatq believes it may send 1,200 requests a minute (20 per 1 s slice) while the key really has 240:
      // chatq's own limiter queues (queue depth, wait, pause for ratelimit), OpenAI's budget runs out and 429s.
      OPENAI_RPM: "1200",
      OPENAI_TPM: "60000",
      RATELIMIT_SLICE_MS: "1000",
      RATELIMIT_MAX_QUEUED: "50",
      OPENAI_RETRY_BASE_MS: "100",
      OPENAI_RETRY_MAX_MS: "1000",
      AUTH_PROBE_MAX_INTERVAL_MS: "500",
      LAG_REFRESH_MS: "1000",
    });
    metricsUrl = await worker.metricsUrl;
    instance = new URL(metricsUrl).host;

    // Alerts hold for minutes (`for: 2m`..`10m`) so that a blip never pages: here every `for:` becomes 5s, so
    // each alert is seen firing within the test. The [5m] rate windows stay: they fill from the first samples.
    // One exception: ChatqNoProgressWhileLagGrows needs 5 minutes without a completion (rate [5m] == 0) and lag
    // growth across a [5m:1m] subquery (points a minute apart), which cannot happen in a test of ~2 minutes; its
    // windows become 20s and [20s:5s]: the same expression in seconds instead of minutes.
    const fastRules = rulesForFastAlerts(rulesText, "5s", {
      ChatqNoProgressWhileLagGrows: [
        ["[5m:1m]", "[20s:5s]"],
        ["[5m]", "[20s]"],
      ],
    });
    prom = await startPrometheus({
      jobName: JOB,
      targets: [instance],
      ruleFiles: { "chatq.rules.yml": fastRules },
      interval: "1s",
    });
    await waitUntil(
      "Prometheus scrapes the worker",
      async () => ((await scalarOf(prom, `up{job="${JOB}"}`)) === 1 ? true : undefined),
      30_000,
    );
  });

  afterAll(async () => {
    fake?.configure({ apiKey: API_KEY });
    await worker?.stop("SIGKILL");
    await prom?.stop();
    await Promise.all([replies?.close(), dlq?.close(), publisher?.close()]);
    await fake?.close();
    await scenarioDb(s).drop();
  });

  it("scrapes the worker, whose exposition passes promtool's metric lint", async () => {
    expect(await scalarOf(prom, `up{job="${JOB}"}`)).toBe(1);
    const exposition = await (await fetch(`${metricsUrl}/metrics`)).text();
    const lint = await promtoolCheckMetrics(exposition);
    const problems = lint.output
      .split("\n")
      .filter((line) => line.trim() !== "" && !PROM_CLIENT_LINT.some((known) => line.startsWith(known)));
    expect(problems, lint.output).toEqual([]);
  });

  it("answers the load: requests, retries, 429s, permanent failures, dead letters and producer retries", async () => {
    const requests = requestLoad(s);
    const malformed = malformedLoad(s);
    await publisher.publish(requests);
    await publisher.publishRaw(malformed.map(({ key, value }) => ({ key, value })));
    const withReply = REQUESTS + malformed.filter((m) => m.requestId).length;
    await replies.waitForRequests(withReply, 90_000);
    await dlq.waitFor(malformed.length, 30_000);
    // A producer that retries requests already answered: the stored reply goes out again, no API call.
    const answered = replies
      .replies()
      .filter((r) => r.status === "completed")
      .slice(0, 10);
    await publisher.publish(requests.filter((r) => answered.some((a) => a.request_id === r.request_id)));
    await replies.waitFor(withReply + answered.length, 30_000);

    // Prometheus has the final counts once its latest scrape agrees with the worker's /metrics.
    const consumed = await metricValue(metricsUrl, "chatq_requests_consumed_total");
    expect(consumed).toBe(REQUESTS + malformed.length + answered.length);
    await waitUntil(
      "Prometheus has scraped the final counts",
      async () =>
        (await scalarOf(prom, "sum(chatq_requests_consumed_total)")) === consumed ? true : undefined,
      15_000,
    );
  });

  it("every dashboard query evaluates and returns data (except the few listed, with why)", async () => {
    const queries = await dashboardQueries();
    expect(queries.length).toBeGreaterThan(30);
    for (const name of Object.keys(MAY_BE_EMPTY))
      expect(
        queries.map((q) => q.name),
        "MAY_BE_EMPTY names a query the dashboard has",
      ).toContain(name);

    // The variables' own queries (label_values) list this worker and the model it used.
    expect(await prom.labelValues("instance", `up{job="${JOB}"}`)).toContain(instance);
    expect(await prom.labelValues("model", "chatq_requests_completed_total")).toContain(MODEL);

    const problems: string[] = [];
    for (const { name, expr } of queries) {
      try {
        const values = sampleValues(await prom.query(expr));
        const empty = values.length === 0;
        if (empty && !(name in MAY_BE_EMPTY)) problems.push(`${name}: no data: ${expr}`);
        else if (!empty && values.every(Number.isNaN)) problems.push(`${name}: only NaN: ${expr}`);
      } catch (err) {
        if (!(err instanceof PromQLError)) throw err;
        problems.push(`${name}: ${err.code}: ${err.message}: ${expr}`);
      }
    }
    expect(problems).toEqual([]);
    // The check can fail: Prometheus refuses a broken expression, and that is reported as a problem.
    await expect(prom.query("sum(rate(chatq_requests_completed_total[5m])")).rejects.toBeInstanceOf(
      PromQLError,
    );
  });

  it("the dashboard shows what the load did", async () => {
    const queries = new Map((await dashboardQueries()).map((q) => [q.name, q.expr]));
    const missing: string[] = [];
    for (const a of SHOWS_ACTIVITY) {
      const expr = "panel" in a ? queries.get(a.panel) : a.expr;
      if (expr === undefined) throw new Error(`the dashboard has no query "${"panel" in a ? a.panel : ""}"`);
      const result = await prom.query(expr);
      const series = result.resultType === "vector" ? result.result : [];
      const shown = series.some(
        (s) => Object.entries(a.series ?? {}).every(([k, v]) => s.metric[k] === v) && Number(s.value[1]) > 0,
      );
      if (!shown) missing.push(`${a.why}: nothing above 0 in ${JSON.stringify(series)} for ${expr}`);
    }
    expect(missing).toEqual([]);
  });

  it("every rule is loaded and healthy, and every rule expression evaluates; recording rules have data", async () => {
    const loaded = await waitUntil(
      "every rule evaluated at least once",
      async () => {
        const r = await prom.rules();
        return r.every((rule) => rule.health !== "unknown") ? r : undefined;
      },
      15_000,
    );
    expect(loaded.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert ?? r.record).sort());
    expect(loaded.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);

    // The original expressions, not the shortened copies Prometheus runs.
    const problems: string[] = [];
    for (const rule of rules) {
      try {
        await prom.query(rule.expr);
      } catch (err) {
        if (!(err instanceof PromQLError)) throw err;
        problems.push(`${rule.alert ?? rule.record}: ${err.code}: ${err.message}`);
      }
      if (rule.record !== undefined && (await scalarOf(prom, rule.record)) === undefined)
        problems.push(`${rule.record}: recorded no series`);
    }
    expect(problems).toEqual([]);
  });

  it("the load's alerts fire: error ratio, 429 ratio, exhausted budget, dead letters", async () => {
    const expected = [
      "ChatqErrorRatioHigh",
      "ChatqRateLimited429High",
      "ChatqBudgetNearlyExhausted",
      "ChatqDeadLetters",
    ];
    expect(await waitForFiring(prom, expected, 20_000)).toEqual(allFiring(expected));
  });

  it("a rejected API key pauses consumption and pages (ChatqPausedForAuth)", async () => {
    fake.configure({ apiKey: "sk-wrong" });
    await publisher.publish([
      { request_id: `${s.id}-auth`, messages: user("are you there?"), params: { max_tokens: 16 } },
    ]);
    expect(await waitForFiring(prom, ["ChatqPausedForAuth"], 30_000)).toEqual(
      allFiring(["ChatqPausedForAuth"]),
    );
  });

  it("while paused, a growing backlog pages (ChatqConsumerLagHigh, ChatqNoProgressWhileLagGrows); a working key resolves the auth page", async () => {
    // Requests keep arriving: the backlog passes 10,000 at once, then grows by 50 a poll with nothing completed.
    let published = 0;
    const publishBacklog = async (n: number) => {
      await publisher.publish(
        Array.from({ length: n }, (_, i) => ({
          request_id: `${s.id}-backlog-${published + i}`,
          messages: user("queued"),
          params: { max_tokens: 16 },
        })),
      );
      published += n;
    };
    await publishBacklog(10_050);
    const lagAlerts = ["ChatqConsumerLagHigh", "ChatqNoProgressWhileLagGrows"];
    expect(await waitForFiring(prom, lagAlerts, 45_000, () => publishBacklog(50))).toEqual(
      allFiring(lagAlerts),
    );

    fake.configure({ apiKey: API_KEY });
    await waitUntil(
      "ChatqPausedForAuth resolves once the key works",
      async () =>
        (await prom.alerts()).some((a) => a.labels.alertname === "ChatqPausedForAuth") ? undefined : true,
      30_000,
    );
  });

  it("an API outage opens the model's circuit and pages (ChatqApiCircuitOpen); the page resolves when the API is back", async () => {
    const failedBefore = await metricValue(metricsUrl, "chatq_requests_failed_total", {
      error_class: "server_error",
    });
    fake.configure({ errorRate: 1 });
    await publisher.publish(
      Array.from({ length: 10 }, (_, i) => ({
        request_id: `${s.id}-outage-${i}`,
        messages: user(`is the API up? ${i}`),
        params: { max_tokens: 16 },
      })),
    );
    expect(await waitForFiring(prom, ["ChatqApiCircuitOpen"], 30_000)).toEqual(
      allFiring(["ChatqApiCircuitOpen"]),
    );
    expect(await scalarOf(prom, `chatq_consumption_paused{reason="api_outage"}`)).toBe(1);
    fake.configure({ errorRate: 0 });
    await waitUntil(
      "ChatqApiCircuitOpen resolves once the API answers",
      async () =>
        (await prom.alerts()).some((a) => a.labels.alertname === "ChatqApiCircuitOpen") ? undefined : true,
      30_000,
    );
    // Nothing failed for it: the calls went back behind the circuit. (They are answered after the backlog the
    // tests above left, far behind them at this key's 240 RPM.)
    expect(
      await metricValue(metricsUrl, "chatq_requests_failed_total", { error_class: "server_error" }),
    ).toBe(failedBefore);
  });

  it("a stopped worker pages (ChatqWorkerDown)", async () => {
    expect(await worker.stop("SIGTERM")).toBe(0);
    expect(await waitForFiring(prom, ["ChatqWorkerDown"], 30_000)).toEqual(allFiring(["ChatqWorkerDown"]));
  });
});
