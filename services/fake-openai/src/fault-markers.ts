/**
 * Deterministic fault markers that tests put in the last user message:
 *   [[fail:503x2]]  the first 2 requests carrying this exact content get 503, later ones succeed
 *   [[fail:429x1]]  429 rate_limit_exceeded with retry-after-ms 200
 *   [[fail:400]]    always 400 (no count means every time)
 *   [[fail:quota]]  429 insufficient_quota (never worth retrying)
 *   [[hang:x1]]     the first request is accepted and never answered
 * Counting is per distinct content, so two tests with different text never share a counter.
 */
export type FaultMarker =
  | { kind: "fail"; status: number; times: number }
  | { kind: "quota"; times: number }
  | { kind: "hang"; times: number };

const MARKER = /\[\[(fail|hang)(?::(\d{3}|quota)?(?:x(\d+))?)?\]\]/;

const INJECTABLE_STATUSES = new Set([400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504]);

/** The first marker in `content`, if any. Malformed or unknown markers are plain text. */
export function parseFaultMarker(content: string): FaultMarker | undefined {
  // Cheap pre-check: almost no request carries a marker and this runs on every request.
  if (!content.includes("[[")) return undefined;
  const match = MARKER.exec(content);
  if (!match) return undefined;
  const [, verb, what, count] = match;
  const times = count === undefined ? Number.POSITIVE_INFINITY : Number(count);
  if (verb === "hang") return what === undefined ? { kind: "hang", times } : undefined;
  if (what === "quota") return { kind: "quota", times };
  const status = Number(what);
  return INJECTABLE_STATUSES.has(status) ? { kind: "fail", status, times } : undefined;
}

/**
 * Fault markers fire before the rate limiter (4xx, like real validation and quota errors, which OpenAI does not
 * charge) or after it (5xx and hangs, which happen to requests the API has already accepted).
 */
export function firesBeforeAdmission(marker: FaultMarker): boolean {
  return marker.kind === "quota" || (marker.kind === "fail" && marker.status < 500);
}

/** How many times each marked content has been seen, to fire "the first N" exactly N times. */
export class MarkerLedger {
  readonly #seen = new Map<string, number>();

  /** Records one more request with this content and says whether its marker fires for it. */
  fires(content: string, marker: FaultMarker): boolean {
    const seen = this.#seen.get(content) ?? 0;
    this.#seen.set(content, seen + 1);
    return seen < marker.times;
  }

  reset(): void {
    this.#seen.clear();
  }
}
