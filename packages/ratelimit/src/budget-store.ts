import type { BucketShape } from "./bucket-shape.ts";
import type { AcquireItem, AcquireOutcome } from "./token-bucket-budget.ts";
import { TokenBucketBudget } from "./token-bucket-budget.ts";

/** Where the budget lives: this process (local mode) or Redis (shared by every replica). */
export interface BudgetStore {
  /** Grants the first items that fit, in order, stopping at the first that does not. */
  acquire(model: string, shape: BucketShape, items: readonly AcquireItem[]): Promise<AcquireOutcome>;
  /** Puts requests/tokens back (negative: takes more). */
  giveBack(model: string, shape: BucketShape, requests: number, tokens: number): Promise<void>;
  observe(
    model: string,
    shape: BucketShape,
    remainingRequests?: number,
    remainingTokens?: number,
  ): Promise<void>;
  holdBack(model: string, shape: BucketShape, ms: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The budget in this process. Several stores may share one `budgets` map under different owners: replicas
 * in one process, deciding exactly as replicas sharing Redis do (tests and benchmarks use that).
 */
export class LocalBudgetStore implements BudgetStore {
  private readonly budgets: Map<string, TokenBucketBudget>;
  private readonly clock: () => number;
  private readonly owner: string;

  constructor(
    clock: () => number,
    shared: { owner: string; budgets: Map<string, TokenBucketBudget> } = {
      owner: "local",
      budgets: new Map(),
    },
  ) {
    this.clock = clock;
    this.owner = shared.owner;
    this.budgets = shared.budgets;
  }

  acquire(model: string, shape: BucketShape, items: readonly AcquireItem[]): Promise<AcquireOutcome> {
    return Promise.resolve(this.budget(model).acquire(this.clock(), shape, items, this.owner));
  }

  giveBack(model: string, shape: BucketShape, requests: number, tokens: number): Promise<void> {
    this.budget(model).giveBack(this.clock(), shape, requests, tokens);
    return Promise.resolve();
  }

  observe(
    model: string,
    shape: BucketShape,
    remainingRequests?: number,
    remainingTokens?: number,
  ): Promise<void> {
    this.budget(model).observe(this.clock(), shape, remainingRequests, remainingTokens);
    return Promise.resolve();
  }

  holdBack(model: string, shape: BucketShape, ms: number): Promise<void> {
    this.budget(model).holdBack(this.clock(), shape, ms);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private budget(model: string): TokenBucketBudget {
    let b = this.budgets.get(model);
    if (b === undefined) {
      b = new TokenBucketBudget();
      this.budgets.set(model, b);
    }
    return b;
  }
}
