import type { BucketShape } from "./bucket-shape.ts";
import { bucketShape } from "./bucket-shape.ts";
import type { BudgetStore } from "./budget-store.ts";
import {
  InvalidAcquireError,
  RateLimitAbortedError,
  RateLimiterClosedError,
  RequestTooLargeError,
} from "./errors.ts";
import { FifoQueue } from "./fifo-queue.ts";
import { lateReplyCharge } from "./late-reply-charge.ts";
import type {
  AcquireRequest,
  ModelLimits,
  Permit,
  QueueDepth,
  RateLimiter,
  RateLimitObservation,
} from "./limiter-types.ts";
import type { AcquireOutcome } from "./token-bucket-budget.ts";

/** Most acquisitions sent in one budget call: one Redis round trip serves a whole burst. */
const MAX_BATCH = 128;
const STORE_RETRY_MIN_MS = 50;
const STORE_RETRY_MAX_MS = 2000;
/** A budget reply slower than this means a busy event loop, not Redis: see chargeLateness(). */
const LATE_REPLY_MS = 5;

interface Waiter {
  tokens: number;
  interactive: boolean;
  enqueuedAt: number;
  /** When it became the head of its queue (undefined until then): its place in the order across replicas. */
  headSince: number | undefined;
  resolve: (p: Permit) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Aborted or closed while its acquisition was at the store: release a grant if one comes. */
  cancelled: boolean;
}

/** One model's local queues in front of its shared budget. */
interface Lane {
  model: string;
  shape: BucketShape;
  interactive: FifoQueue<Waiter>;
  batch: FifoQueue<Waiter>;
  sending: Waiter[] | undefined;
  pumpScheduled: boolean;
  timer: NodeJS.Timeout | undefined;
  /** The last refusal was for an interactive head: a new interactive arrival changes nothing. */
  refusedInteractive: boolean;
  /**
   * The last budget call refused something, so this replica may hold the shared reservation (or be next for
   * it). If its waiters go (aborted), it says so at once instead of letting the claim block others until it expires.
   */
  mayHoldReservation: boolean;
  holdUntil: number;
  storeFailures: number;
  freeRequests: number;
  freeTokens: number;
  pendingObservation: { requests?: number; tokens?: number } | undefined;
  observing: boolean;
}

export interface LimiterConfig {
  limits: { default: ModelLimits; perModel?: Record<string, ModelLimits> };
  burstSliceMs: number;
  jitterMarginMs: number;
  maxQueued: number;
  clock: () => number;
  onError: (err: unknown) => void;
}

/**
 * Local priority queues (interactive before batch, FIFO within each) in front of a BudgetStore.
 * Each model has one pump: it sends the heads of its queues to the store in one call, resolves the
 * granted prefix, and sleeps until the store says capacity returns.
 */
export class QueuedRateLimiter implements RateLimiter {
  private readonly store: BudgetStore;
  private readonly cfg: LimiterConfig;
  private readonly lanes = new Map<string, Lane>();
  private readonly drainCallbacks: (() => void)[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private count = 0;
  private saturated = false;
  private closed = false;

  constructor(store: BudgetStore, cfg: LimiterConfig) {
    this.store = store;
    this.cfg = cfg;
  }

  acquire(req: AcquireRequest): Promise<Permit> {
    if (this.closed) return Promise.reject(new RateLimiterClosedError());
    if (!Number.isFinite(req.tokens) || req.tokens < 0) {
      return Promise.reject(
        new InvalidAcquireError(`tokens must be a finite number >= 0, got ${req.tokens}`),
      );
    }
    const tokens = Math.ceil(req.tokens);
    const lane = this.lane(req.model);
    if (lane.shape.maxRequestTokens > 0 && tokens > lane.shape.maxRequestTokens) {
      return Promise.reject(new RequestTooLargeError(req.model, tokens, lane.shape.maxRequestTokens));
    }
    const signal = req.signal;
    if (signal?.aborted) return Promise.reject(new RateLimitAbortedError(signal.reason));

    return new Promise<Permit>((resolve, reject) => {
      const interactive = req.priority === "interactive";
      const enqueuedAt = this.cfg.clock();
      const w: Waiter = {
        tokens,
        interactive,
        enqueuedAt,
        headSince: undefined,
        resolve,
        reject,
        signal,
        onAbort: undefined,
        cancelled: false,
      };
      if (signal !== undefined) {
        w.onAbort = () => this.abort(lane, w);
        signal.addEventListener("abort", w.onAbort, { once: true });
      }
      (interactive ? lane.interactive : lane.batch).push(w);
      this.changeCount(1);
      if (lane.timer !== undefined && interactive && !lane.refusedInteractive) {
        // The head that was refused was batch work; this interactive one may fit now.
        this.wake(lane);
      } else if (lane.timer === undefined) {
        this.schedulePump(lane);
      }
    });
  }

  observe(model: string, o: RateLimitObservation): void {
    if (this.closed) return;
    const lane = this.lane(model);
    const r = o.remainingRequests;
    const t = o.remainingTokens;
    // Only an answer that says less remains than we believe can change anything: skip the rest
    // so a busy worker does not pay a Redis call per answer.
    const lowerR = r !== undefined && r < lane.freeRequests ? r : undefined;
    const lowerT = t !== undefined && t < lane.freeTokens ? t : undefined;
    if (lowerR === undefined && lowerT === undefined) return;
    const p = lane.pendingObservation ?? {};
    if (lowerR !== undefined) p.requests = Math.min(p.requests ?? lowerR, lowerR);
    if (lowerT !== undefined) p.tokens = Math.min(p.tokens ?? lowerT, lowerT);
    lane.pendingObservation = p;
    this.flushObservation(lane);
  }

  holdBack(model: string, ms: number): void {
    if (this.closed || !(ms > 0)) return;
    const lane = this.lane(model);
    lane.holdUntil = Math.max(lane.holdUntil, this.cfg.clock() + ms);
    this.track(this.store.holdBack(model, lane.shape, ms)).catch(this.cfg.onError);
    if (lane.timer !== undefined) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
    }
    this.schedulePump(lane);
  }

  snapshot(): QueueDepth[] {
    const out: QueueDepth[] = [];
    for (const lane of this.lanes.values()) {
      let sendingI = 0;
      let sendingB = 0;
      for (const w of lane.sending ?? []) {
        if (w.cancelled) continue;
        if (w.interactive) sendingI++;
        else sendingB++;
      }
      out.push({ model: lane.model, priority: "interactive", queued: lane.interactive.length + sendingI });
      out.push({ model: lane.model, priority: "batch", queued: lane.batch.length + sendingB });
    }
    return out;
  }

  queued(): number {
    return this.count;
  }

  isSaturated(): boolean {
    return this.count >= this.cfg.maxQueued;
  }

  onDrain(cb: () => void): void {
    this.drainCallbacks.push(cb);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new RateLimiterClosedError();
    for (const lane of this.lanes.values()) {
      if (lane.timer !== undefined) clearTimeout(lane.timer);
      lane.timer = undefined;
      for (const w of [...lane.interactive.drain(), ...lane.batch.drain()]) this.settle(w, err);
      for (const w of lane.sending ?? []) {
        if (!w.cancelled) this.settle(w, err);
        w.cancelled = true;
      }
    }
    // Grants still on their way are released by their pump before the store closes.
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    // A claim on the shared budget would hold the other replicas back until it expired.
    await Promise.allSettled(
      [...this.lanes.values()]
        .filter((lane) => lane.mayHoldReservation)
        .map((lane) => this.store.acquire(lane.model, lane.shape, [])),
    );
    await this.store.close();
  }

  private lane(model: string): Lane {
    let lane = this.lanes.get(model);
    if (lane === undefined) {
      const limits = this.cfg.limits.perModel?.[model] ?? this.cfg.limits.default;
      const shape = bucketShape(limits, this.cfg.burstSliceMs, this.cfg.jitterMarginMs);
      lane = {
        model,
        shape,
        interactive: new FifoQueue(),
        batch: new FifoQueue(),
        sending: undefined,
        pumpScheduled: false,
        timer: undefined,
        refusedInteractive: false,
        mayHoldReservation: false,
        holdUntil: 0,
        storeFailures: 0,
        freeRequests: shape.requests?.capacity ?? Number.POSITIVE_INFINITY,
        freeTokens: shape.tokens?.capacity ?? Number.POSITIVE_INFINITY,
        pendingObservation: undefined,
        observing: false,
      };
      this.lanes.set(model, lane);
    }
    return lane;
  }

  private wake(lane: Lane): void {
    if (lane.timer !== undefined) clearTimeout(lane.timer);
    lane.timer = undefined;
    this.schedulePump(lane);
  }

  /** Pump on a microtask so every acquire() of the current tick goes out in the same call. */
  private schedulePump(lane: Lane): void {
    if (lane.pumpScheduled) return;
    lane.pumpScheduled = true;
    queueMicrotask(() => {
      lane.pumpScheduled = false;
      this.pump(lane);
    });
  }

  private sleep(lane: Lane, ms: number): void {
    if (lane.timer !== undefined) clearTimeout(lane.timer);
    lane.timer = setTimeout(
      () => {
        lane.timer = undefined;
        this.pump(lane);
      },
      Math.max(1, Math.ceil(ms)),
    );
  }

  private pump(lane: Lane): void {
    if (this.closed || lane.sending !== undefined || lane.timer !== undefined) return;
    if (lane.interactive.length + lane.batch.length === 0) {
      // Nothing waits here any more: give up a claim on the shared budget now rather than when it expires.
      if (lane.mayHoldReservation) this.send(lane, []);
      return;
    }
    const wait = lane.holdUntil - this.cfg.clock();
    if (wait > 0) {
      this.sleep(lane, wait);
      return;
    }
    const sending: Waiter[] = [];
    while (sending.length < MAX_BATCH) {
      const w = lane.interactive.shift() ?? lane.batch.shift();
      if (w === undefined) break;
      sending.push(w);
    }
    this.send(lane, sending);
  }

  private send(lane: Lane, sending: Waiter[]): void {
    lane.sending = sending;
    const sentAt = this.cfg.clock();
    // Each queue's head says how long it has been head; the others are not heads yet (see headMs).
    let interactiveHead = true;
    let batchHead = true;
    const items = sending.map((w) => {
      const isHead = w.interactive ? interactiveHead : batchHead;
      if (w.interactive) interactiveHead = false;
      else batchHead = false;
      if (isHead) w.headSince ??= sentAt;
      return {
        tokens: w.tokens,
        interactive: w.interactive,
        headMs: isHead ? sentAt - (w.headSince ?? sentAt) : 0,
      };
    });
    const call = this.store.acquire(lane.model, lane.shape, items);
    this.track(call).then(
      (outcome) => this.granted(lane, sending, outcome, sentAt),
      (err: unknown) => this.storeFailed(lane, sending, err),
    );
  }

  private granted(lane: Lane, sending: Waiter[], outcome: AcquireOutcome, sentAt: number): void {
    lane.sending = undefined;
    lane.storeFailures = 0;
    lane.mayHoldReservation = outcome.granted < sending.length;
    lane.freeRequests = outcome.freeRequests;
    lane.freeTokens = outcome.freeTokens;
    const now = this.cfg.clock();
    const back: Waiter[] = [];
    let grantedTokens = 0;
    sending.forEach((w, i) => {
      if (i >= outcome.granted) {
        if (!w.cancelled) back.push(w);
        return;
      }
      grantedTokens += w.tokens;
      if (w.cancelled) this.release(lane, w.tokens);
      else this.settle(w, undefined, this.permit(lane, w, now));
    });
    if (outcome.granted > 0 && now - sentAt >= LATE_REPLY_MS) {
      this.chargeLateness(lane, outcome, grantedTokens, now - sentAt);
    }
    // The first refused item of each priority is its queue's head now: it became head during this call.
    for (const w of [back.find((x) => x.interactive), back.find((x) => !x.interactive)]) {
      if (w !== undefined) w.headSince ??= sentAt;
    }
    this.putBack(lane, back);
    if (this.closed) return;
    const refused = back[0];
    if (outcome.retryMs === undefined || refused === undefined) {
      // Everything sent was granted (or the refused ones were aborted meanwhile): go again if more arrived
      // while the call was out, or give up a claim nobody here needs any more.
      lane.refusedInteractive = false;
      this.pump(lane);
      return;
    }
    lane.refusedInteractive = refused.interactive;
    // An interactive request arrived while refused batch work was at the store: try it now.
    if (!refused.interactive && lane.interactive.length > 0 && !(lane.holdUntil > now)) {
      this.pump(lane);
      return;
    }
    this.sleep(lane, outcome.retryMs);
  }

  /**
   * The grants reached us `lateMs` after the budget decided, so they reach the API that late too.
   * If the API's bucket was (nearly) full meanwhile, it could not bank the refill of those ms past
   * its capacity, while ours counted from the decision: take that overflow (lateReplyCharge) out of
   * ours so the two stay in step. Nothing to take in steady state, when the buckets run low.
   */
  private chargeLateness(lane: Lane, outcome: AcquireOutcome, grantedTokens: number, lateMs: number): void {
    const { requests: r, tokens: t } = lane.shape;
    const requests = lateReplyCharge(r, outcome.freeRequests + outcome.granted, outcome.granted, lateMs);
    const tokens = lateReplyCharge(t, outcome.freeTokens + grantedTokens, grantedTokens, lateMs);
    if (requests > 0 || tokens > 0) {
      this.track(this.store.giveBack(lane.model, lane.shape, -requests, -tokens)).catch(this.cfg.onError);
    }
  }

  /** Gives a grant nobody will use back to the budget, and lets a sleeping waiter try for it. */
  private release(lane: Lane, tokens: number): void {
    this.track(this.store.giveBack(lane.model, lane.shape, 1, tokens)).then(() => {
      if (lane.timer !== undefined && !(lane.holdUntil > this.cfg.clock())) this.wake(lane);
    }, this.cfg.onError);
  }

  private storeFailed(lane: Lane, sending: Waiter[], err: unknown): void {
    lane.sending = undefined;
    this.putBack(
      lane,
      sending.filter((w) => !w.cancelled),
    );
    if (this.closed) return;
    this.cfg.onError(err);
    // Keep the waiters: the budget is unknown while the store is unreachable, so failing closed
    // (waiting) is the only way not to overspend it. Callers bound the wait with their signal.
    lane.storeFailures++;
    this.sleep(lane, Math.min(STORE_RETRY_MAX_MS, STORE_RETRY_MIN_MS * 2 ** (lane.storeFailures - 1)));
  }

  private putBack(lane: Lane, back: Waiter[]): void {
    lane.interactive.unshiftAll(back.filter((w) => w.interactive));
    lane.batch.unshiftAll(back.filter((w) => !w.interactive));
  }

  private permit(lane: Lane, w: Waiter, now: number): Permit {
    let charged = w.tokens;
    let released = false;
    return {
      waitedMs: Math.max(0, now - w.enqueuedAt),
      tokens: w.tokens,
      reconcile: (actualTokens: number) => {
        if (released || this.closed || !Number.isFinite(actualTokens) || actualTokens < 0) return;
        const actual = Math.ceil(actualTokens);
        if (actual === charged) return;
        const back = charged - actual;
        charged = actual;
        this.track(this.store.giveBack(lane.model, lane.shape, 0, back)).then(() => {
          // Tokens came back: a waiter sleeping until the refill may fit now.
          if (back > 0 && lane.timer !== undefined && !(lane.holdUntil > this.cfg.clock())) this.wake(lane);
        }, this.cfg.onError);
      },
      release: () => {
        if (released || this.closed) return;
        released = true;
        this.release(lane, charged);
      },
    };
  }

  private abort(lane: Lane, w: Waiter): void {
    if (w.cancelled) return;
    const queue = w.interactive ? lane.interactive : lane.batch;
    if (!queue.remove(w)) {
      // At the store right now: the pump releases the grant if one comes back.
      if (!lane.sending?.includes(w)) return;
      w.cancelled = true;
    } else if (lane.timer !== undefined && (w.headSince !== undefined || queue.length === 0)) {
      // A head's wait ended early: its successor may fit now, and the shared claim it held must change hands
      // (to the successor, or to another replica) now rather than when it expires.
      this.wake(lane);
    }
    this.settle(w, new RateLimitAbortedError(w.signal?.reason));
  }

  private settle(w: Waiter, err: unknown, permit?: Permit): void {
    if (w.signal !== undefined && w.onAbort !== undefined) w.signal.removeEventListener("abort", w.onAbort);
    w.onAbort = undefined;
    this.changeCount(-1);
    if (permit !== undefined) w.resolve(permit);
    else w.reject(err);
  }

  private changeCount(delta: number): void {
    this.count += delta;
    if (this.count >= this.cfg.maxQueued) {
      this.saturated = true;
    } else if (this.saturated) {
      this.saturated = false;
      for (const cb of this.drainCallbacks) {
        try {
          cb();
        } catch (err) {
          this.cfg.onError(err);
        }
      }
    }
  }

  private flushObservation(lane: Lane): void {
    const p = lane.pendingObservation;
    if (lane.observing || p === undefined || this.closed) return;
    lane.pendingObservation = undefined;
    lane.observing = true;
    // Believe the answer until the next acquisition reports the shared state.
    if (p.requests !== undefined) lane.freeRequests = Math.min(lane.freeRequests, p.requests);
    if (p.tokens !== undefined) lane.freeTokens = Math.min(lane.freeTokens, p.tokens);
    this.track(this.store.observe(lane.model, lane.shape, p.requests, p.tokens))
      .catch(this.cfg.onError)
      .finally(() => {
        lane.observing = false;
        this.flushObservation(lane);
      });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }
}
