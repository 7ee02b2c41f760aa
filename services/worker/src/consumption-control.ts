import type { PauseReason } from "@chatq/telemetry";

export interface ConsumptionControlOptions {
  /** Called when fetching must stop (true) or may go on (false): the first reason arrived, or the last left. */
  apply: (paused: boolean) => void;
  /** Every change of one reason, for the paused{reason} gauge and the log. */
  onReason: (reason: PauseReason, on: boolean, all: readonly PauseReason[]) => void;
}

/**
 * Fetching from Kafka is paused while any reason holds (backpressure, a saturated limiter, a rejected key,
 * shutdown) and resumes only when none does: each reason is set and cleared by its own owner, independently.
 */
export class ConsumptionControl {
  readonly #reasons = new Set<PauseReason>();
  readonly #o: ConsumptionControlOptions;

  constructor(opts: ConsumptionControlOptions) {
    this.#o = opts;
  }

  set(reason: PauseReason, on: boolean): void {
    if (on === this.#reasons.has(reason)) return;
    const wasPaused = this.isPaused();
    if (on) this.#reasons.add(reason);
    else this.#reasons.delete(reason);
    this.#o.onReason(reason, on, [...this.#reasons]);
    if (wasPaused !== this.isPaused()) this.#o.apply(this.isPaused());
  }

  isPaused(): boolean {
    return this.#reasons.size > 0;
  }
}
