import type { BucketShape } from "./bucket-shape.ts";

export interface Grant {
  at: number;
  tokens: number;
}

/**
 * The budget's promise, checked over a record of grants (by the tests; pure so any test can use
 * it): between any two grants — any interval [a, b] — at most one bucket plus the refill of b − a
 * went out. So per API slice at most the slice's share plus one bucket, per minute at most the
 * limit plus one bucket. A request bigger than the bucket counts as the bucket (it goes alone,
 * from full, and its debt is paid back before the next). Returns what was broken; [] if nothing.
 */
export function budgetViolations(grants: readonly Grant[], shape: BucketShape): string[] {
  const out: string[] = [];
  const sorted = [...grants].sort((x, y) => x.at - y.at);
  for (let i = 0; i < sorted.length && out.length < 5; i++) {
    const a = (sorted[i] as Grant).at;
    let requests = 0;
    let tokens = 0;
    let biggest = 0;
    for (let j = i; j < sorted.length; j++) {
      const g = sorted[j] as Grant;
      requests++;
      tokens += g.tokens;
      biggest = Math.max(biggest, g.tokens);
      const span = g.at - a;
      if (shape.requests) {
        const allowed = Math.max(1, shape.requests.capacity) + shape.requests.perMs * span;
        if (requests > allowed + 1e-6)
          out.push(`${requests} requests in [${a}, ${g.at}], allowed ${allowed}`);
      }
      if (shape.tokens) {
        const allowed = Math.max(biggest, shape.tokens.capacity) + shape.tokens.perMs * span;
        if (tokens > allowed + 1e-6) out.push(`${tokens} tokens in [${a}, ${g.at}], allowed ${allowed}`);
      }
    }
  }
  return out;
}
