/**
 * Decides from the outcomes of one model's calls whether the API is down for it: a run of consecutive failures,
 * or a failure ratio over a sliding window with enough calls in it. Failures here are the service's kind only
 * (5xx, timeouts, refused connections); a request's own 400 says nothing about the API and is not recorded.
 * Pure, with the clock passed in, so the thresholds can be tested without waiting.
 */
export interface OutageThresholds {
  /** This many failures in a row open the circuit whatever the window says. */
  consecutiveFailures: number;
  windowMs: number;
  /** Below this many calls in the window the ratio is not trusted. */
  minCallsInWindow: number;
  failureRatio: number;
}

export const DEFAULT_OUTAGE_THRESHOLDS: OutageThresholds = {
  consecutiveFailures: 5,
  windowMs: 10_000,
  minCallsInWindow: 20,
  failureRatio: 0.5,
};

export class OutageDetector {
  readonly #t: OutageThresholds;
  #run = 0;
  /** Outcomes in the window, oldest first: [at, ok]. */
  #window: { at: number; ok: boolean }[] = [];
  #failuresInWindow = 0;

  constructor(thresholds: OutageThresholds = DEFAULT_OUTAGE_THRESHOLDS) {
    this.#t = thresholds;
  }

  record(ok: boolean, at: number): void {
    this.#run = ok ? 0 : this.#run + 1;
    this.#window.push({ at, ok });
    if (!ok) this.#failuresInWindow++;
    this.#expire(at);
  }

  /** After recording a failure: is this an outage? */
  isOutage(at: number): boolean {
    this.#expire(at);
    if (this.#run >= this.#t.consecutiveFailures) return true;
    const calls = this.#window.length;
    return calls >= this.#t.minCallsInWindow && this.#failuresInWindow / calls >= this.#t.failureRatio;
  }

  /** The circuit closed again: start afresh, so the failures of the outage do not reopen it. */
  reset(): void {
    this.#run = 0;
    this.#window = [];
    this.#failuresInWindow = 0;
  }

  #expire(now: number): void {
    let drop = 0;
    while (
      drop < this.#window.length &&
      (this.#window[drop] as { at: number }).at <= now - this.#t.windowMs
    ) {
      if (!(this.#window[drop] as { ok: boolean }).ok) this.#failuresInWindow--;
      drop++;
    }
    if (drop > 0) this.#window.splice(0, drop);
  }
}
