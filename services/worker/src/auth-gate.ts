import type { LlmError } from "@chatq/llm";

export interface AuthGateOptions {
  /** A cheap authenticated call; resolves when the key works again. */
  probe: () => Promise<void>;
  initialIntervalMs?: number;
  maxIntervalMs: number;
  sleep: (ms: number) => Promise<void>;
  onChange: (open: boolean, error?: LlmError) => void;
}

/**
 * A 401/403 (or an exhausted quota) means every request will fail until someone fixes the account. Failing or
 * dead-lettering them would throw work away, so the gate closes instead: callers wait, consumption pauses, and a
 * probe with backoff reopens the gate once the API accepts the key again.
 */
export class AuthGate {
  readonly #opts: AuthGateOptions;
  #closed: Promise<void> | undefined;
  #release: () => void = () => {};
  #stopped = false;

  constructor(opts: AuthGateOptions) {
    this.#opts = opts;
  }

  isOpen(): boolean {
    return this.#closed === undefined;
  }

  /** Resolves at once while open, else when a probe succeeds (or the gate is stopped). */
  whenOpen(): Promise<void> {
    return this.#closed ?? Promise.resolve();
  }

  trip(error: LlmError): void {
    if (this.#closed || this.#stopped) return;
    this.#opts.onChange(false, error);
    const released = new Promise<void>((resolve) => {
      this.#release = resolve;
    });
    this.#closed = Promise.race([this.#probeUntilOpen(), released]).then(() => {
      this.#closed = undefined;
      if (!this.#stopped) this.#opts.onChange(true);
    });
  }

  /** On shutdown: waiters are released at once (their work stays uncommitted and is redone later). */
  stop(): void {
    this.#stopped = true;
    this.#release();
  }

  async #probeUntilOpen(): Promise<void> {
    let interval = this.#opts.initialIntervalMs ?? 1000;
    while (!this.#stopped) {
      await this.#opts.sleep(interval);
      if (this.#stopped) return;
      try {
        await this.#opts.probe();
        return;
      } catch {
        interval = Math.min(this.#opts.maxIntervalMs, interval * 2);
      }
    }
  }
}
