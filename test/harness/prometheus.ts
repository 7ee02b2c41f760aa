import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { freePort } from "./worker-process.ts";

// A real Prometheus server for live observability tests: started on a free port with a generated config,
// queried over its HTTP API, killed at the end. Binaries come from infra/prometheus/ensure-prometheus.sh.

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, "../..");
const ensureScript = join(repoRoot, "infra/prometheus/ensure-prometheus.sh");

async function onPath(binary: string): Promise<boolean> {
  return run(binary, ["--version"]).then(
    () => true,
    () => false,
  );
}

/** Makes `prometheus` and `promtool` available, installing them if needed; throws rather than skipping. */
export async function ensurePrometheus(): Promise<void> {
  if ((await onPath("prometheus")) && (await onPath("promtool"))) return;
  try {
    await run("bash", [ensureScript], { timeout: 170_000 });
  } catch (err) {
    throw new Error(
      `prometheus is needed for the live observability test and ${ensureScript} could not install it: ` +
        `${(err as Error).message}. Install Prometheus (Debian: apt-get install prometheus).`,
    );
  }
  if (!(await onPath("prometheus"))) throw new Error(`prometheus still missing after ${ensureScript}`);
}

/** `promtool check metrics` on an exposition text (its lint: naming, units, `_total` on counters). */
export function promtoolCheckMetrics(exposition: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((done) => {
    const child = execFile("promtool", ["check", "metrics"], (err, stdout, stderr) =>
      done({ ok: err === null, output: `${stdout}${stderr}` }),
    );
    child.stdin?.end(exposition);
  });
}

interface RulesDoc {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string; for?: string }[] }[];
}

/**
 * A copy of a rules file for a test that must see alerts fire within seconds: every alert's `for:` becomes
 * `holdFor`, and `exprRewrites` (alert name → [from, to] pairs) shorten windows that could not fill in time.
 * Throws when a rewrite finds nothing, so a changed rules file cannot silently make it a no-op.
 */
export function rulesForFastAlerts(
  rulesYaml: string,
  holdFor: string,
  exprRewrites: Record<string, [from: string, to: string][]> = {},
): string {
  const doc = parseYaml(rulesYaml) as RulesDoc;
  const unused = new Set(Object.keys(exprRewrites));
  for (const rule of doc.groups.flatMap((g) => g.rules)) {
    if (rule.alert === undefined) continue;
    if (rule.for !== undefined) rule.for = holdFor;
    for (const [from, to] of exprRewrites[rule.alert] ?? []) {
      if (!rule.expr.includes(from)) throw new Error(`${rule.alert}: "${from}" not in its expr`);
      rule.expr = rule.expr.replaceAll(from, to);
    }
    unused.delete(rule.alert);
  }
  if (unused.size > 0) throw new Error(`no such alerts to rewrite: ${[...unused].join(", ")}`);
  return stringifyYaml(doc);
}

export type QueryResult =
  | { resultType: "vector"; result: { metric: Record<string, string>; value: [number, string] }[] }
  | { resultType: "matrix"; result: { metric: Record<string, string>; values: [number, string][] }[] }
  | { resultType: "scalar" | "string"; result: [number, string] };

/** A PromQL expression Prometheus refused (parse error, bad arguments) or could not evaluate. */
export class PromQLError extends Error {
  override readonly name = "PromQLError";
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: "pending" | "firing";
  activeAt: string;
  value: string;
}

export interface LoadedRule {
  name: string;
  type: "alerting" | "recording";
  query: string;
  health: "ok" | "err" | "unknown";
  lastError?: string;
  state?: "inactive" | "pending" | "firing";
}

export interface PrometheusServer {
  url: string;
  /** Instant query at the server's now. Throws PromQLError when Prometheus rejects the expression. */
  query(expr: string): Promise<QueryResult>;
  /** Pending and firing alerts (inactive ones are not listed). */
  alerts(): Promise<ActiveAlert[]>;
  rules(): Promise<LoadedRule[]>;
  /** Values of `label` on the series `match` selects (what Grafana's label_values(match, label) lists). */
  labelValues(label: string, match: string): Promise<string[]>;
  /** The tail of the server's own log, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  jobName: string;
  /** host:port of each target, scraped at /metrics. */
  targets: string[];
  /** File name → YAML text of rule files to load. */
  ruleFiles?: Record<string, string>;
  /** Scrape and rule evaluation interval. */
  interval?: string;
}

/** Starts `prometheus` on a free 127.0.0.1 port with its own temp config and TSDB; resolves once /-/ready. */
export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), "chatq-prometheus-"));
  const interval = opts.interval ?? "1s";
  const ruleFiles = Object.entries(opts.ruleFiles ?? {});
  for (const [name, text] of ruleFiles) await writeFile(join(dir, name), text);
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: ruleFiles.map(([name]) => join(dir, name)),
    scrape_configs: [
      { job_name: opts.jobName, metrics_path: "/metrics", static_configs: [{ targets: opts.targets }] },
    ],
  };
  await writeFile(join(dir, "prometheus.yml"), stringifyYaml(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Through a bash watchdog holding our stdin pipe: if this test process dies without stop(), the pipe closes
  // and prometheus is stopped too, instead of running on forever on a shared machine.
  const proc: ChildProcess = spawn(
    "bash",
    [
      "-c",
      'exec 3<&0; prometheus "$@" </dev/null & p=$!; (read -r _ <&3; kill -TERM "$p" 2>/dev/null) & wait "$p"',
      "prometheus-watchdog",
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["pipe", "ignore", "pipe"] },
  );
  let log = "";
  proc.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString("utf8")).slice(-8000);
  });
  const exited = new Promise<void>((r) => proc.on("exit", () => r()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  const stop = async () => {
    proc.stdin?.end(); // the watchdog's cue: SIGTERM to prometheus, which flushes and exits
    if (!gone) {
      const killer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (gone) {
      await stop();
      throw new Error(`prometheus exited before it was ready: ${log}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after 30 s: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data?: T; errorType?: string; error?: string };
    if (body.status !== "success" || body.data === undefined)
      throw new PromQLError(body.errorType ?? `http_${res.status}`, body.error ?? "no data");
    return body.data;
  }

  return {
    url,
    query: (expr) => api<QueryResult>(`/api/v1/query?query=${encodeURIComponent(expr)}`),
    alerts: async () => (await api<{ alerts: ActiveAlert[] }>("/api/v1/alerts")).alerts,
    rules: async () =>
      (await api<{ groups: { rules: LoadedRule[] }[] }>("/api/v1/rules")).groups.flatMap((g) => g.rules),
    labelValues: (label, match) =>
      api<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values?match[]=${encodeURIComponent(match)}`),
    log: () => log,
    stop,
  };
}

/** The samples of an instant query as numbers (NaN included): one per series, or the scalar. */
export function sampleValues(r: QueryResult): number[] {
  if (r.resultType === "vector") return r.result.map((s) => Number(s.value[1]));
  if (r.resultType === "matrix") return r.result.flatMap((s) => s.values.map((v) => Number(v[1])));
  return [Number(r.result[1])];
}
