import type { CheckResult } from "@chatq/telemetry";
import { CircuitBreaker, type CircuitState } from "./circuit-breaker.ts";
import { DEFAULT_OUTAGE_THRESHOLDS, OutageDetector, type OutageThresholds } from "./outage-detector.ts";

export interface ApiGatesOptions {
  /** A cheap authenticated call (GET /models): the account gate's probe before its trial request. */
  probeAccount: () => Promise<void>;
  /** Longest wait between account probes, and between trials of a model's open circuit. */
  accountMaxOpenMs: number;
  modelMaxOpenMs: number;
  thresholds?: OutageThresholds;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random: () => number;
  onChange: (circuit: string, state: CircuitState, info: { reason?: string; nextTryInMs?: number }) => void;
}

/** The account circuit's name in metrics, logs and /readyz. */
export const ACCOUNT = "account";

/**
 * The circuits every API call passes: the account's (a rejected key or no quota stops every model) and one per
 * model (an outage of one model's serving). A request waits at a closed gate instead of failing: the condition
 * is the account's or the API's, never the request's.
 */
export class ApiGates {
  readonly account: CircuitBreaker;
  readonly #models = new Map<string, CircuitBreaker>();
  /** Circuits of routed deployments: a request leaves them for the next deployment, so they pause nothing. */
  readonly #routed = new Set<string>();
  readonly #o: ApiGatesOptions;

  constructor(opts: ApiGatesOptions) {
    this.#o = opts;
    this.account = new CircuitBreaker({
      probe: opts.probeAccount,
      initialOpenMs: 500,
      maxOpenMs: opts.accountMaxOpenMs,
      now: opts.now,
      sleep: opts.sleep,
      random: opts.random,
      onChange: (state, info) => opts.onChange(ACCOUNT, state, info),
    });
  }

  /** The model's (or a routed deployment's) circuit; names are an allow-listed, bounded set. */
  model(model: string, opts: { routed?: boolean } = {}): CircuitBreaker {
    let breaker = this.#models.get(model);
    if (!breaker) {
      if (opts.routed) this.#routed.add(model);
      const o = this.#o;
      breaker = new CircuitBreaker({
        detector: new OutageDetector(o.thresholds ?? DEFAULT_OUTAGE_THRESHOLDS),
        initialOpenMs: 500,
        maxOpenMs: o.modelMaxOpenMs,
        now: o.now,
        sleep: o.sleep,
        random: o.random,
        onChange: (state, info) => o.onChange(model, state, info),
      });
      this.#models.set(model, breaker);
    }
    return breaker;
  }

  /** Any model's API circuit not closed: consumption pauses, /readyz says api is down. */
  anyModelOpen(): boolean {
    for (const [name, b] of this.#models) if (!this.#routed.has(name) && b.state() !== "closed") return true;
    return false;
  }

  waiting(): { circuit: string; waiting: number }[] {
    return [
      { circuit: ACCOUNT, waiting: this.account.waiting() },
      ...[...this.#models].map(([circuit, b]) => ({ circuit, waiting: b.waiting() })),
    ];
  }

  authReadiness(): CheckResult {
    const d = this.account.describe();
    if (d.state === "closed") return { ok: true };
    return { ok: false, detail: `paused: the API rejected the key or quota (${d.reason ?? "?"}); probing` };
  }

  apiReadiness(): CheckResult {
    const open = [...this.#models]
      .map(([model, b]) => ({ model, ...b.describe() }))
      .filter((d) => d.state !== "closed");
    if (open.length === 0) return { ok: true };
    return {
      ok: false,
      detail: open
        .map(
          (d) =>
            `${d.model}: circuit ${d.state} for ${Math.round((d.openForMs ?? 0) / 1000)}s (${d.reason ?? "?"})`,
        )
        .join("; "),
    };
  }

  stop(reason: unknown): void {
    this.account.stop(reason);
    for (const b of this.#models.values()) b.stop(reason);
  }
}
