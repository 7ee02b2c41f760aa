import type { WindowCapacity } from "./window-capacity.ts";

/**
 * One model's shared budget as a sliding-window log: every grant is an entry that counts until it
 * expires (one window after it was granted). A new grant fits only if the live entries plus it stay
 * within the window's capacity, so EVERY interval of one window length — and hence every API slice,
 * fixed or sliding, and every minute — holds at most the capacity. A token bucket or GCRA cannot
 * promise that: with burst capacity B it lets B + rate × slice (≈ 2B) through in some slice.
 *
 * This file is the pure twin of sliding-window-budget.lua (Redis mode); keep the two in step.
 */

export interface AcquireItem {
  tokens: number;
  interactive: boolean;
  /** From grantLifetimeMs(): one window, longer for a request bigger than a slice's tokens. */
  lifetimeMs: number;
}

export interface AcquireOutcome {
  /** Handles for reconcile/release, one per granted item: always a prefix of the items asked. */
  granted: string[];
  /** Milliseconds until the first refused item could fit; undefined when all were granted. */
  retryMs: number | undefined;
  /** Capacity left after the grants (Infinity when unlimited); lets observe() skip useless calls. */
  freeRequests: number;
  freeTokens: number;
}

interface Entry {
  expiresAt: number;
  requests: number;
  tokens: number;
  handle: string;
}

/**
 * While a replica's interactive request waits, batch requests of every replica are refused until
 * shortly after the moment it was told to retry, so the slot that frees goes to interactive work.
 */
export const PRIORITY_GRACE_MS = 50;

export class SlidingWindowBudget {
  // Sorted by expiresAt: grants append (the clock only moves forward); longer-lived ones insert.
  private entries: Entry[] = [];
  private head = 0;
  private byHandle = new Map<string, Entry>();
  private sumRequests = 0;
  private sumTokens = 0;
  private seq = 0;
  private holdUntil = 0;
  private priorityUntil = 0;
  private priorityOwner = "";

  acquire(now: number, cap: WindowCapacity, items: readonly AcquireItem[], owner: string): AcquireOutcome {
    this.expire(now);
    const granted: string[] = [];
    let retryMs: number | undefined;
    let interactiveRefused = false;
    if (this.holdUntil > now) {
      retryMs = this.holdUntil - now;
    } else {
      for (const item of items) {
        if (!item.interactive && this.priorityUntil > now && this.priorityOwner !== owner) {
          retryMs = this.priorityUntil - now;
          break;
        }
        if (!this.fits(cap, item.tokens, 0, 0)) {
          retryMs = this.msUntilFits(now, cap, item.tokens);
          if (item.interactive) {
            interactiveRefused = true;
            this.priorityUntil = now + retryMs + PRIORITY_GRACE_MS;
            this.priorityOwner = owner;
          }
          break;
        }
        granted.push(this.add(now + item.lifetimeMs, 1, item.tokens));
      }
    }
    // This replica has no interactive work waiting any more: stop holding the others' batch back.
    const first = items[0];
    if (!interactiveRefused && this.priorityOwner === owner && (first === undefined || !first.interactive)) {
      this.priorityUntil = 0;
    }
    return {
      granted,
      retryMs,
      freeRequests: cap.requests > 0 ? cap.requests - this.sumRequests : Number.POSITIVE_INFINITY,
      freeTokens: cap.tokens > 0 ? cap.tokens - this.sumTokens : Number.POSITIVE_INFINITY,
    };
  }

  /** Sets a grant's tokens to what the API really charged; tokens < 0 releases the grant entirely. */
  reconcile(now: number, handle: string, tokens: number): void {
    this.expire(now);
    const entry = this.byHandle.get(handle);
    if (entry === undefined) return;
    if (tokens < 0) {
      this.sumRequests -= entry.requests;
      this.sumTokens -= entry.tokens;
      entry.requests = 0;
      entry.tokens = 0;
      this.byHandle.delete(handle);
      return;
    }
    this.sumTokens += tokens - entry.tokens;
    entry.tokens = tokens;
  }

  /**
   * The API reports what remains of its budget. If it is less than our free capacity, someone we
   * don't see is spending it (another app on the key, lost state): reserve the difference for one
   * window. Never raises ours: answers are stale by their latency, so ours is the better estimate.
   */
  observe(now: number, cap: WindowCapacity, remainingRequests?: number, remainingTokens?: number): void {
    this.expire(now);
    let requests = 0;
    let tokens = 0;
    if (cap.requests > 0 && remainingRequests !== undefined) {
      requests = Math.max(0, cap.requests - this.sumRequests - Math.max(0, remainingRequests));
    }
    if (cap.tokens > 0 && remainingTokens !== undefined) {
      tokens = Math.max(0, cap.tokens - this.sumTokens - Math.max(0, remainingTokens));
    }
    if (requests > 0 || tokens > 0) this.add(now + cap.windowMs, requests, tokens);
  }

  /**
   * Pushes grants' expiry back by `ms`: the replica got them that much later than the budget
   * decided (a busy event loop), so they reach the API that much later too.
   */
  extend(now: number, handles: readonly string[], ms: number): void {
    this.expire(now);
    for (const handle of handles) {
      const entry = this.byHandle.get(handle);
      if (entry === undefined) continue;
      const i = this.entries.indexOf(entry, this.head);
      this.entries.splice(i, 1);
      this.byHandle.delete(handle);
      this.sumRequests -= entry.requests;
      this.sumTokens -= entry.tokens;
      this.insert({ ...entry, expiresAt: entry.expiresAt + ms });
    }
  }

  holdBack(now: number, ms: number): void {
    this.holdUntil = Math.max(this.holdUntil, now + ms);
  }

  private fits(cap: WindowCapacity, tokens: number, freedRequests: number, freedTokens: number): boolean {
    if (cap.requests > 0 && this.sumRequests - freedRequests + 1 > cap.requests) return false;
    if (cap.tokens > 0) {
      const used = this.sumTokens - freedTokens;
      // Bigger than a whole slice: it can only go alone, when nothing else is in the window.
      if (tokens > cap.tokens) return used <= 0;
      if (used + tokens > cap.tokens) return false;
    }
    return true;
  }

  private msUntilFits(now: number, cap: WindowCapacity, tokens: number): number {
    let freedRequests = 0;
    let freedTokens = 0;
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i] as Entry;
      freedRequests += e.requests;
      freedTokens += e.tokens;
      const next = this.entries[i + 1];
      if (next !== undefined && next.expiresAt === e.expiresAt) continue;
      if (this.fits(cap, tokens, freedRequests, freedTokens)) return Math.max(1, e.expiresAt - now);
    }
    return Math.max(1, cap.windowMs);
  }

  private add(expiresAt: number, requests: number, tokens: number): string {
    this.seq += 1;
    const entry: Entry = { expiresAt, requests, tokens, handle: String(this.seq) };
    this.insert(entry);
    return entry.handle;
  }

  private insert(entry: Entry): void {
    const { expiresAt, requests, tokens } = entry;
    let i = this.entries.length;
    while (i > this.head && (this.entries[i - 1] as Entry).expiresAt > expiresAt) i--;
    if (i === this.entries.length) this.entries.push(entry);
    else this.entries.splice(i, 0, entry);
    this.byHandle.set(entry.handle, entry);
    this.sumRequests += requests;
    this.sumTokens += tokens;
  }

  private expire(now: number): void {
    while (this.head < this.entries.length) {
      const e = this.entries[this.head] as Entry;
      if (e.expiresAt > now) break;
      this.sumRequests -= e.requests;
      this.sumTokens -= e.tokens;
      this.byHandle.delete(e.handle);
      this.head++;
    }
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    if (this.head === this.entries.length) {
      this.sumRequests = 0;
      this.sumTokens = 0;
    }
  }
}
