export interface CheckResult {
  ok: boolean;
  detail?: string;
}

export type ReadinessCheck = () => CheckResult | Promise<CheckResult>;

export interface ReadinessReport {
  status: "ready" | "not_ready";
  checks: Record<string, CheckResult>;
}

/** A check that answers later than this counts as failed: a hung dependency is not a ready one. */
export const DEFAULT_CHECK_TIMEOUT_MS = 2_000;

// Details are shown on an unauthenticated endpoint and in probe logs: keep them short.
const MAX_DETAIL_CHARS = 200;

/**
 * Runs every check concurrently, each bounded by timeoutMs; ready only when all are ok.
 * A check that throws or times out is reported as not ok with the reason as detail.
 */
export async function evaluateReadiness(
  checks: Record<string, ReadinessCheck>,
  timeoutMs: number = DEFAULT_CHECK_TIMEOUT_MS,
): Promise<ReadinessReport> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((name) => runCheck(checks[name], timeoutMs)));
  const report: Record<string, CheckResult> = {};
  names.forEach((name, i) => {
    report[name] = results[i] ?? { ok: false, detail: "no result" };
  });
  const ready = results.every((r) => r.ok);
  return { status: ready ? "ready" : "not_ready", checks: report };
}

async function runCheck(check: ReadinessCheck | undefined, timeoutMs: number): Promise<CheckResult> {
  if (check === undefined) return { ok: false, detail: "no check" };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: "timeout" }), timeoutMs);
  });
  try {
    // Promise.resolve().then() also turns a synchronous throw into a failed check.
    const result = await Promise.race([Promise.resolve().then(check), timeout]);
    return normalize(result);
  } catch (err) {
    return { ok: false, detail: clip(err instanceof Error ? err.message || err.name : String(err)) };
  } finally {
    clearTimeout(timer);
  }
}

function normalize(result: CheckResult): CheckResult {
  const ok = result.ok === true;
  return result.detail === undefined ? { ok } : { ok, detail: clip(result.detail) };
}

function clip(detail: string): string {
  return detail.length > MAX_DETAIL_CHARS ? `${detail.slice(0, MAX_DETAIL_CHARS - 1)}…` : detail;
}
