/** Why a request left one deployment for the next in its chain. Stable: a reply field and a metric label. */
export const FALLBACK_REASONS = ["circuit_open", "rate_limited", "context_length"] as const;
export type FallbackReason = (typeof FALLBACK_REASONS)[number];

/** What the caller saw at one deployment, before or after a call. */
export type DeploymentSignal =
  | { kind: "circuit"; state: "closed" | "open" | "half_open"; trialAvailable: boolean }
  | { kind: "budget_wait"; expectedWaitMs: number; waitBudgetMs: number }
  | { kind: "rate_limited"; retryAfterMs: number | undefined; waitBudgetMs: number }
  | { kind: "error"; code: string };

/**
 * Whether to leave this deployment for the next one. Only conditions of the deployment count (its circuit, its
 * budget, its context window): a request's own error (a 400, a bad key) would fail the same way anywhere.
 * The last deployment of a chain never falls back: the caller waits or fails there as without routing.
 */
export function fallbackReason(signal: DeploymentSignal, isLast: boolean): FallbackReason | undefined {
  if (isLast) return undefined;
  switch (signal.kind) {
    case "circuit":
      // Half-open with its trial slot free: this request is the trial, so recovery is noticed and traffic returns.
      return signal.state === "closed" || (signal.state === "half_open" && signal.trialAvailable)
        ? undefined
        : "circuit_open";
    case "budget_wait":
      return signal.expectedWaitMs > signal.waitBudgetMs ? "rate_limited" : undefined;
    case "rate_limited":
      return (signal.retryAfterMs ?? 0) > signal.waitBudgetMs ? "rate_limited" : undefined;
    case "error":
      return signal.code === "context_length" ? "context_length" : undefined;
  }
}
