import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { createMetrics, primeSeries } from "@chatq/telemetry";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

// What SREs get from chatq besides the code: Prometheus config, alert rules with runbooks, the Grafana
// dashboard. These checks run the real promtool (installed by infra/prometheus/ensure-prometheus.sh).

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "..");
const prometheusDir = join(root, "infra/prometheus");
const rulesFile = join(prometheusDir, "alerts/chatq.rules.yml");
const rulesTestFile = join(prometheusDir, "alerts/chatq.rules.test.yml");
const dashboardFile = join(root, "infra/grafana/dashboards/chatq.json");

interface PromtoolResult {
  ok: boolean;
  output: string;
}

async function promtool(...args: string[]): Promise<PromtoolResult> {
  try {
    const { stdout, stderr } = await run("promtool", args, { cwd: root });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` || e.message };
  }
}

async function promtoolAvailable(): Promise<boolean> {
  return run("promtool", ["--version"]).then(
    () => true,
    () => false,
  );
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

async function loadRules(): Promise<Rule[]> {
  const doc = parseYaml(await readFile(rulesFile, "utf8")) as { groups: { rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

interface DashboardExpr {
  where: string;
  expr: string;
}

interface Panel {
  id?: number;
  title?: string;
  type?: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string; refId?: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}

interface Dashboard {
  schemaVersion: number;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query: { query: string } | string; datasource?: { uid?: string } }[] };
}

async function loadDashboard(): Promise<Dashboard> {
  return JSON.parse(await readFile(dashboardFile, "utf8")) as Dashboard;
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

function dashboardExprs(d: Dashboard): DashboardExpr[] {
  return allPanels(d.panels).flatMap((p) =>
    (p.targets ?? []).flatMap((t) =>
      t.expr === undefined ? [] : [{ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: t.expr }],
    ),
  );
}

/** Grafana expands its variables before Prometheus sees a query; do the same with harmless values. */
function expandGrafanaVariables(expr: string): string {
  return expr.replace(/\$__\w+/g, "5m").replace(/\$\{?\w+(:\w+)?\}?/g, ".*");
}

/** Wraps expressions as recording rules so `promtool check rules` parses each with Prometheus' own parser. */
async function checkExpressionsParse(exprs: DashboardExpr[]): Promise<PromtoolResult> {
  const rules = exprs.map((e, i) => ({
    record: `dashboard:expr_${i}`,
    expr: expandGrafanaVariables(e.expr),
  }));
  const dir = await mkdtemp(join(tmpdir(), "chatq-dashboard-exprs-"));
  try {
    const file = join(dir, "exprs.yml");
    await writeFile(file, JSON.stringify({ groups: [{ name: "dashboard", rules }] }));
    const result = await promtool("check", "rules", file);
    // Map "rule N" in promtool's message back to the panel it came from.
    const output = result.output.replace(/dashboard:expr_(\d+)/g, (m, i: string) => {
      const e = exprs[Number(i)];
      return e ? `${m} (${e.where})` : m;
    });
    return { ok: result.ok, output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Metric names chatq exports: createMetrics()'s registry, default Node metrics included, histograms expanded. */
async function exportedMetricNames(): Promise<Set<string>> {
  const { registry } = createMetrics();
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(m.name + s);
  }
  return names;
}

/** chatq's own names (chatq_*, chatq:*) and the Node defaults (process_*, nodejs_*) an expression mentions. */
function referencedMetricNames(expr: string): string[] {
  return [...expr.matchAll(/(?<![\w:])(chatq[_:][a-zA-Z0-9_:]+|process_[a-z0-9_]+|nodejs_[a-z0-9_]+)/g)].map(
    (m) => m[1] ?? "",
  );
}

beforeAll(async () => {
  if (await promtoolAvailable()) return;
  const script = join(prometheusDir, "ensure-prometheus.sh");
  try {
    await run("bash", [script], { timeout: 170_000 });
  } catch (err) {
    throw new Error(
      `promtool is needed for these checks and ${script} could not install it: ${(err as Error).message}. ` +
        "Install Prometheus (Debian: apt-get install prometheus) so that `promtool` is on PATH.",
    );
  }
  if (!(await promtoolAvailable())) throw new Error(`promtool still missing after ${script}`);
});

describe("Prometheus files", () => {
  it("prometheus.yml is a valid config, including the rule files it loads", async () => {
    const result = await promtool("check", "config", join(prometheusDir, "prometheus.yml"));
    expect(result.output, result.output).toMatch(/SUCCESS/);
    expect(result.ok, result.output).toBe(true);
    // The glob must load the rules and never the promtool test file beside them.
    expect(result.output).toContain("chatq.rules.yml");
    expect(result.output).not.toContain("chatq.rules.test.yml");
  });

  it("the alert and recording rules are valid", async () => {
    const result = await promtool("check", "rules", rulesFile);
    expect(result.ok, result.output).toBe(true);
  });

  it("every alert fires when its condition holds and stays silent otherwise (promtool unit tests)", async () => {
    const result = await promtool("test", "rules", rulesTestFile);
    expect(result.ok, result.output).toBe(true);
  });

  it("every alert has a severity, a summary, a description and a runbook, and has a unit test", async () => {
    const alerts = (await loadRules()).filter((r) => r.alert !== undefined);
    const tested = await readFile(rulesTestFile, "utf8");
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        "ChatqNoProgressWhileLagGrows",
        "ChatqConsumerLagHigh",
        "ChatqErrorRatioHigh",
        "ChatqDeadLetters",
        "ChatqRateLimited429High",
        "ChatqBudgetNearlyExhausted",
        "ChatqPausedForAuth",
        "ChatqApiCircuitOpen",
        "ChatqWorkerDown",
      ]),
    );
    for (const a of alerts) {
      expect(["page", "warning"], `${a.alert} severity`).toContain(a.labels?.severity);
      expect(a.annotations?.summary, `${a.alert} summary`).toBeTruthy();
      expect(a.annotations?.description, `${a.alert} description`).toBeTruthy();
      // A runbook says what it means, what to look at first, and what to do.
      expect(a.annotations?.runbook, `${a.alert} runbook`).toMatch(
        /Meaning:[\s\S]+First checks:[\s\S]+What to do:/,
      );
      expect(tested, `${a.alert} has no promtool test`).toContain(`alertname: ${a.alert}\n`);
    }
  });
});

describe("Grafana dashboard", () => {
  it("is an importable dashboard whose every query uses the provisioned Prometheus datasource", async () => {
    const d = await loadDashboard();
    expect(d.uid).toBe("chatq");
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    const panels = allPanels(d.panels);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size, "panel ids are unique").toBe(ids.length);
    for (const p of panels.filter((p) => p.type !== "row")) {
      expect(p.datasource?.uid, `panel ${p.title}`).toBe("prometheus");
      expect(p.targets?.length, `panel ${p.title} has queries`).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, `panel ${p.title}`).toBe("prometheus");
    }
    for (const v of d.templating.list) expect(v.datasource?.uid, `variable ${v.name}`).toBe("prometheus");

    const datasources = await readFile(
      join(root, "infra/grafana/provisioning/datasources/prometheus.yml"),
      "utf8",
    );
    expect(parseYaml(datasources)).toMatchObject({
      datasources: [{ uid: "prometheus", type: "prometheus", url: "http://prometheus:9090" }],
    });
  });

  it("every PromQL expression on the dashboard parses", async () => {
    const exprs = dashboardExprs(await loadDashboard());
    expect(exprs.length).toBeGreaterThan(30);
    const result = await checkExpressionsParse(exprs);
    expect(result.ok, result.output).toBe(true);
  });

  it("the parse check rejects a broken expression (so the check above can fail)", async () => {
    const result = await checkExpressionsParse([
      { where: "good", expr: 'sum(rate(chatq_requests_completed_total{model=~"$model"}[$__rate_interval]))' },
      { where: "broken", expr: "sum(rate(chatq_requests_completed_total[5m])" },
    ]);
    expect(result.ok).toBe(false);
    expect(result.output).toContain("broken");
  });
});

describe("metric names", () => {
  it("the dashboard and the rules reference only metrics chatq exports (catches typos)", async () => {
    const exported = await exportedMetricNames();
    const rules = await loadRules();
    for (const r of rules) if (r.record) exported.add(r.record);
    const d = await loadDashboard();
    const sources = [
      ...dashboardExprs(d),
      ...d.templating.list.map((v) => ({
        where: `variable ${v.name}`,
        expr: typeof v.query === "string" ? v.query : v.query.query,
      })),
      ...rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })),
    ];
    const unknown = sources.flatMap(({ where, expr }) =>
      referencedMetricNames(expr)
        .filter((name) => !exported.has(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(unknown).toEqual([]);
    // Guard against the extraction silently finding nothing.
    expect(sources.flatMap((s) => referencedMetricNames(s.expr)).length).toBeGreaterThan(50);
    expect(referencedMetricNames("sum(rate(chatq_requets_total[5m]))")).toEqual(["chatq_requets_total"]);
  });

  it("chatq's exposition passes promtool's metric lint (naming, units, _total on counters)", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    primeSeries(metrics, { models: ["gpt-4o-mini"], topics: ["chat.requests"] });
    metrics.endToEndLatency.observe({ priority: "normal" }, 0.5);
    const exposition = await metrics.registry.metrics();
    const lint = await new Promise<PromtoolResult>((done) => {
      const child = execFile("promtool", ["check", "metrics"], (err, stdout, stderr) =>
        done({ ok: err === null, output: stdout + stderr }),
      );
      child.stdin?.end(exposition);
    });
    expect(lint.ok, lint.output).toBe(true);
  });
});
