/**
 * How many requests one worker should hold to use its whole budget, by Little's law: requests at the API =
 * arrival rate × time each spends there. A budget of 30,000 RPM (500/s) at 1 s per call needs 500 calls under
 * way at every instant, plus what waits for the next grant and what is being written; a hand-set
 * `WORKER_MAX_IN_FLIGHT` of 500 could never reach 500/s. The configured value stays the upper bound (memory:
 * every request held is its messages and context), the derived target is what the worker actually holds.
 */

export interface InFlightTargetSettings {
  /** The configured WORKER_MAX_IN_FLIGHT: never more than this, whatever the budget asks for. */
  max: number;
  /** Never fewer, so a cold start or a quiet spell still takes work in useful batches. */
  min: number;
  /** Share added on top of rate × latency: the grants of the next slice waiting, and the effects being written. */
  headroom: number;
  /**
   * Without a finite budget the rate that matters is what the API sustains; the observed rate is then multiplied
   * by this so the target can grow past a concurrency that was itself the limit.
   */
  probeGrowth: number;
  /** Weight of a new latency observation in the moving average (0..1]. */
  latencyAlpha: number;
  /** Calls are counted over windows this long to estimate the observed rate. */
  rateWindowMs: number;
  /** A model with no call for this long is no longer in use and stops counting. */
  idleAfterMs: number;
}

export const DEFAULT_IN_FLIGHT_TARGET: Omit<InFlightTargetSettings, "max"> = {
  min: 32,
  headroom: 1,
  probeGrowth: 2,
  latencyAlpha: 0.05,
  rateWindowMs: 1_000,
  idleAfterMs: 10_000,
};

/** One model in use: its budget and what its calls have shown. */
export interface ModelLoad {
  /** Requests per second the budget grants (RPM / 60); Infinity when unlimited. */
  budgetPerSecond: number;
  /** Moving average of one API call's duration. */
  latencyMs: number;
  /** Calls per second observed over the last window. */
  observedPerSecond: number;
}

/**
 * The pure rule: Σ over models in use of rate × latency, times (1 + headroom), clamped to [min, max]. A model's
 * rate is its budget when it has one (what it may be granted, so what it needs); an unlimited model's is its
 * observed rate × probeGrowth. No model observed yet: max (the old behaviour until there is evidence).
 */
export function inFlightTarget(
  models: readonly ModelLoad[],
  s: Pick<InFlightTargetSettings, "max" | "min" | "headroom" | "probeGrowth">,
): number {
  if (models.length === 0) return s.max;
  let need = 0;
  for (const m of models) {
    const rate = Number.isFinite(m.budgetPerSecond)
      ? m.budgetPerSecond
      : Math.max(m.observedPerSecond * s.probeGrowth, 0);
    need += rate * (Math.max(0, m.latencyMs) / 1000);
  }
  const target = Math.ceil(need * (1 + s.headroom));
  if (!Number.isFinite(target)) return s.max;
  return Math.min(s.max, Math.max(s.min, target));
}

interface ModelState {
  latencyMs: number;
  windowStart: number;
  windowCalls: number;
  observedPerSecond: number;
  lastCallAt: number;
}

/** Keeps each model's latency average and call rate from finished API calls, and answers the current target. */
export class InFlightTargetEstimator {
  readonly #s: InFlightTargetSettings;
  readonly #budgetPerSecond: (model: string) => number;
  readonly #now: () => number;
  readonly #models = new Map<string, ModelState>();

  constructor(
    settings: InFlightTargetSettings,
    budgetPerSecond: (model: string) => number,
    now: () => number,
  ) {
    this.#s = settings;
    this.#budgetPerSecond = budgetPerSecond;
    this.#now = now;
  }

  /** One API call ended after `ms` (any outcome: a slow error holds its slot as long as a success). */
  observe(model: string, ms: number): void {
    const now = this.#now();
    const m = this.#models.get(model);
    if (!m) {
      this.#models.set(model, {
        latencyMs: ms,
        windowStart: now,
        windowCalls: 1,
        observedPerSecond: 0,
        lastCallAt: now,
      });
      return;
    }
    m.latencyMs += this.#s.latencyAlpha * (ms - m.latencyMs);
    this.#roll(m, now);
    m.windowCalls++;
    m.lastCallAt = now;
  }

  target(): number {
    const now = this.#now();
    const loads: ModelLoad[] = [];
    for (const [model, m] of this.#models) {
      if (now - m.lastCallAt > this.#s.idleAfterMs) {
        this.#models.delete(model);
        continue;
      }
      this.#roll(m, now);
      loads.push({
        budgetPerSecond: this.#budgetPerSecond(model),
        latencyMs: m.latencyMs,
        observedPerSecond: m.observedPerSecond,
      });
    }
    return inFlightTarget(loads, this.#s);
  }

  #roll(m: ModelState, now: number): void {
    const elapsed = now - m.windowStart;
    if (elapsed < this.#s.rateWindowMs) return;
    m.observedPerSecond = (m.windowCalls * 1000) / elapsed;
    m.windowStart = now;
    m.windowCalls = 0;
  }
}

/** RPM → requests per second the budget grants; 0 (unlimited) → Infinity. */
export function budgetPerSecond(rpm: number): number {
  return rpm > 0 ? rpm / 60 : Number.POSITIVE_INFINITY;
}
