/**
 * What to undo at shutdown, registered by each part as it starts (so a start that fails half way closes exactly
 * what it started). close() runs them in reverse order against ONE deadline: each gets what is left of it, up
 * to its own cap, so a dead broker cannot make the steps add up past the supervisor's hard stop. Memoised, like
 * bullmq's Worker.close(): a second call waits for the first.
 */
export interface CloserOptions {
  now: () => number;
  onError: (name: string, err: unknown) => void;
  onTimeout: (name: string, ms: number) => void;
}

/** A closer gets the shared deadline, for parts that plan their own steps within it. */
type Close = (deadlineAt: number) => Promise<unknown> | unknown;

interface Closer {
  name: string;
  close: Close;
  capMs: number;
}

export class Closers {
  readonly #o: CloserOptions;
  readonly #closers: Closer[] = [];
  #closing: Promise<void> | undefined;

  constructor(opts: CloserOptions) {
    this.#o = opts;
  }

  add(name: string, close: Close, capMs = Number.POSITIVE_INFINITY): void {
    this.#closers.push({ name, close, capMs });
  }

  close(deadlineAt: number): Promise<void> {
    this.#closing ??= this.#run(deadlineAt);
    return this.#closing;
  }

  async #run(deadlineAt: number): Promise<void> {
    for (const c of [...this.#closers].reverse()) {
      const ms = Math.max(0, Math.min(c.capMs, deadlineAt - this.#o.now()));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), ms);
      });
      try {
        const closing = Promise.resolve().then(() => c.close(deadlineAt));
        const result = await Promise.race([closing.then(() => "done" as const), timedOut]);
        if (result === "timeout") this.#o.onTimeout(c.name, ms);
      } catch (err) {
        this.#o.onError(c.name, err);
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
