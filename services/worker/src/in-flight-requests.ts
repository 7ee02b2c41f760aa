/**
 * Requests being worked on, by request_id. A second copy of a request (a producer's retry, a redelivery) that
 * arrives while the first is in flight must not call the API again: it waits for the first and learns whether
 * it completed (then its own offset may be released) or was dropped (then it takes over the work).
 */
export class InFlightRequests {
  readonly #active = new Map<string, (completed: boolean) => void>();
  readonly #waiting = new Map<string, Promise<boolean>>();

  /** Undefined when the request is not in flight: the caller now owns it and must `settle` it. */
  claim(requestId: string): Promise<boolean> | undefined {
    const pending = this.#waiting.get(requestId);
    if (pending) return pending;
    let resolve: (completed: boolean) => void = () => {};
    this.#waiting.set(
      requestId,
      new Promise<boolean>((r) => {
        resolve = r;
      }),
    );
    this.#active.set(requestId, resolve);
    return undefined;
  }

  /** completed: its effects are stored and published; false: dropped (shutdown, partition revoked). */
  settle(requestId: string, completed: boolean): void {
    this.#active.get(requestId)?.(completed);
    this.#active.delete(requestId);
    this.#waiting.delete(requestId);
  }
}
