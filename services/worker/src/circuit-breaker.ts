/**
 * A circuit breaker in front of a dependency every request shares: the account (a rejected key, no quota) or one
 * model of the API (an outage). While it is closed, calls go. When the dependency is down it opens: callers wait
 * instead of failing, which is right because the condition is the dependency's, not any request's. After a
 * backoff (the server's retry-after when it gave one) an optional cheap probe runs until it passes; then the
 * circuit is half-open and exactly one waiting call goes as the trial. The trial's success closes the circuit
 * and releases every waiter; its failure opens it again for longer.
 *
 * Whether a failure of a call that was admitted is the request's own (to be retried and charged to it) or the
 * dependency's is the breaker's answer to `failed()`: a failure that opens the circuit, or arrives while it is
 * open (the call went out before it opened), is the dependency's.
 */
export type CircuitState = "closed" | "open" | "half_open";

/** Handed to each admitted call; give it back through succeeded / failed / abandoned. */
export interface Admission {
  readonly trial: boolean;
}

/** Decides from the outcomes of a closed circuit whether the dependency is down (see OutageDetector). */
export interface FailureDetector {
  record(ok: boolean, at: number): void;
  isOutage(at: number): boolean;
  reset(): void;
}

export interface CircuitBreakerOptions {
  /** Without one, failures never open the circuit: only trip() does (the account gate). */
  detector?: FailureDetector;
  /** Run (and repeated with backoff) before the trial call: e.g. GET /models for the account. */
  probe?: () => Promise<void>;
  /** First wait after opening; doubles per failed probe or trial, up to maxOpenMs. */
  initialOpenMs: number;
  maxOpenMs: number;
  now: () => number;
  /** Resolves after ms, or early when the signal aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random: () => number;
  onChange: (state: CircuitState, info: { reason?: string; nextTryInMs?: number }) => void;
}

export class CircuitOpenAborted extends Error {
  override readonly name = "CircuitOpenAborted";
}

interface Waiter {
  resolve: (a: Admission) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

const CLOSED_ADMISSION: Admission = Object.freeze({ trial: false });

export class CircuitBreaker {
  readonly #o: CircuitBreakerOptions;
  #state: CircuitState = "closed";
  #openMs: number;
  #waiters: Waiter[] = [];
  #trialOut = false;
  /** Ends the current open period's sleep/probe loop at stop(). */
  #stop = new AbortController();
  #reason: string | undefined;
  #openedAt: number | undefined;
  /** Each open period has its own probe loop; a loop of an earlier period stops when it sees a newer one. */
  #period = 0;

  constructor(opts: CircuitBreakerOptions) {
    this.#o = opts;
    this.#openMs = opts.initialOpenMs;
  }

  state(): CircuitState {
    return this.#state;
  }

  /** Why it opened and since when, for /readyz. */
  describe(): { state: CircuitState; reason?: string; openForMs?: number } {
    if (this.#state === "closed") return { state: "closed" };
    return {
      state: this.#state,
      ...(this.#reason !== undefined && { reason: this.#reason }),
      ...(this.#openedAt !== undefined && { openForMs: Math.round(this.#o.now() - this.#openedAt) }),
    };
  }

  /** Half-open with its trial slot free: the next admit() is the trial (a router sends a request to find out). */
  trialAvailable(): boolean {
    return this.#state === "half_open" && !this.#trialOut;
  }

  /** Waiting callers: what an open circuit holds back. */
  waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Resolves when the call may go: at once while closed; else when the circuit closes or this caller is picked as
   * the trial. Rejects with the signal's reason (or CircuitOpenAborted) if the signal aborts first.
   */
  admit(signal: AbortSignal): Promise<Admission> {
    if (this.#state === "closed") return Promise.resolve(CLOSED_ADMISSION);
    if (signal.aborted) return Promise.reject(signal.reason ?? new CircuitOpenAborted());
    if (this.#state === "half_open" && !this.#trialOut) {
      this.#trialOut = true;
      return Promise.resolve({ trial: true });
    }
    return new Promise<Admission>((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          reject(signal.reason ?? new CircuitOpenAborted());
        },
      };
      signal.addEventListener("abort", w.onAbort, { once: true });
      this.#waiters.push(w);
    });
  }

  succeeded(a: Admission): void {
    if (this.#state === "closed") {
      this.#o.detector?.record(true, this.#o.now());
      return;
    }
    // A call admitted while closed that succeeds after the circuit opened proves it is up again, as a trial would.
    if (a.trial) this.#trialOut = false;
    this.#close();
  }

  /**
   * A call failed for a reason of this dependency. Returns whether the failure is the request's own: false when
   * the circuit is (now) open, so the caller waits at admit() again without charging the request.
   */
  failed(a: Admission, reason: string, retryAfterMs?: number): { ownFailure: boolean } {
    const at = this.#o.now();
    if (this.#state === "closed") {
      this.#o.detector?.record(false, at);
      if (!this.#o.detector?.isOutage(at)) return { ownFailure: true };
      this.#open(reason, retryAfterMs);
      return { ownFailure: false };
    }
    if (a.trial && this.#state === "half_open") {
      this.#trialOut = false;
      this.#openMs = Math.min(this.#o.maxOpenMs, this.#openMs * 2);
      this.#open(reason, retryAfterMs);
    }
    return { ownFailure: false };
  }

  /** Opens at once: one rejected key says enough about the account. */
  trip(reason: string, retryAfterMs?: number): void {
    if (this.#state === "open") return;
    if (this.#state === "half_open") this.#openMs = Math.min(this.#o.maxOpenMs, this.#openMs * 2);
    this.#trialOut = false;
    this.#open(reason, retryAfterMs);
  }

  /**
   * The call ended without proving anything either way (the request's own error, a stop, a lost partition):
   * a trial slot goes to the next waiter.
   */
  abandoned(a: Admission): void {
    if (!a.trial || this.#state !== "half_open") return;
    this.#trialOut = false;
    this.#grantTrial();
  }

  /** At shutdown: waiters are rejected (their work stays uncommitted), the probe loop ends. */
  stop(reason: unknown): void {
    this.#stop.abort(reason);
    for (const w of this.#waiters.splice(0)) {
      w.signal.removeEventListener("abort", w.onAbort);
      w.reject(reason);
    }
  }

  #open(reason: string, retryAfterMs: number | undefined): void {
    const wasOpen = this.#state !== "closed";
    this.#state = "open";
    this.#reason = reason;
    if (!wasOpen) this.#openedAt = this.#o.now();
    // The server's retry-after is a floor; jitter keeps replicas from probing in the same instant.
    const waitMs = Math.max(retryAfterMs ?? 0, this.#openMs * (0.8 + 0.4 * this.#o.random()));
    this.#o.onChange("open", { reason, nextTryInMs: Math.round(waitMs) });
    void this.#probeThenHalfOpen(waitMs, ++this.#period);
  }

  async #probeThenHalfOpen(firstWaitMs: number, period: number): Promise<void> {
    const signal = this.#stop.signal;
    const current = () => !signal.aborted && this.#state === "open" && this.#period === period;
    let waitMs = firstWaitMs;
    for (;;) {
      await this.#o.sleep(waitMs, signal);
      if (!current()) return;
      if (this.#o.probe === undefined) break;
      try {
        await this.#o.probe();
        break;
      } catch {
        this.#openMs = Math.min(this.#o.maxOpenMs, this.#openMs * 2);
        waitMs = this.#openMs * (0.8 + 0.4 * this.#o.random());
      }
    }
    if (!current()) return;
    this.#state = "half_open";
    this.#o.onChange("half_open", {});
    this.#grantTrial();
  }

  #grantTrial(): void {
    if (this.#trialOut) return;
    const w = this.#waiters.shift();
    if (w === undefined) return; // the next admit() becomes the trial
    this.#trialOut = true;
    w.signal.removeEventListener("abort", w.onAbort);
    w.resolve({ trial: true });
  }

  #close(): void {
    this.#state = "closed";
    this.#openMs = this.#o.initialOpenMs;
    this.#trialOut = false;
    this.#reason = undefined;
    this.#openedAt = undefined;
    // The outage's failures must not count against the fresh circuit.
    this.#o.detector?.reset();
    this.#o.onChange("closed", {});
    for (const w of this.#waiters.splice(0)) {
      w.signal.removeEventListener("abort", w.onAbort);
      w.resolve(CLOSED_ADMISSION);
    }
  }
}
