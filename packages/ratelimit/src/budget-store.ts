import type { AcquireItem, AcquireOutcome } from "./sliding-window-budget.ts";
import { SlidingWindowBudget } from "./sliding-window-budget.ts";
import type { WindowCapacity } from "./window-capacity.ts";

/** Where the budget lives: this process (local mode) or Redis (shared by every replica). */
export interface BudgetStore {
  /** Grants a prefix of `items` in order (stops at the first that does not fit). */
  acquire(model: string, cap: WindowCapacity, items: readonly AcquireItem[]): Promise<AcquireOutcome>;
  /** Sets a grant's tokens to what was really charged; tokens < 0 releases the grant. */
  reconcile(model: string, handle: string, tokens: number): Promise<void>;
  observe(
    model: string,
    cap: WindowCapacity,
    remainingRequests?: number,
    remainingTokens?: number,
  ): Promise<void>;
  /** Pushes grants' expiry back by ms (they left this replica late). */
  extend(model: string, handles: readonly string[], ms: number): Promise<void>;
  holdBack(model: string, ms: number): Promise<void>;
  close(): Promise<void>;
}

export class LocalBudgetStore implements BudgetStore {
  private readonly budgets = new Map<string, SlidingWindowBudget>();
  private readonly clock: () => number;

  constructor(clock: () => number) {
    this.clock = clock;
  }

  acquire(model: string, cap: WindowCapacity, items: readonly AcquireItem[]): Promise<AcquireOutcome> {
    return Promise.resolve(this.budget(model).acquire(this.clock(), cap, items, "local"));
  }

  reconcile(model: string, handle: string, tokens: number): Promise<void> {
    this.budget(model).reconcile(this.clock(), handle, tokens);
    return Promise.resolve();
  }

  observe(
    model: string,
    cap: WindowCapacity,
    remainingRequests?: number,
    remainingTokens?: number,
  ): Promise<void> {
    this.budget(model).observe(this.clock(), cap, remainingRequests, remainingTokens);
    return Promise.resolve();
  }

  extend(model: string, handles: readonly string[], ms: number): Promise<void> {
    this.budget(model).extend(this.clock(), handles, ms);
    return Promise.resolve();
  }

  holdBack(model: string, ms: number): Promise<void> {
    this.budget(model).holdBack(this.clock(), ms);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private budget(model: string): SlidingWindowBudget {
    let b = this.budgets.get(model);
    if (b === undefined) {
      b = new SlidingWindowBudget();
      this.budgets.set(model, b);
    }
    return b;
  }
}
