import { API_ERROR_CODES, type ApiErrorCode } from "@chatq/contracts";

/** Every way an API call can fail, as a stable code: the worker branches on it, and it is the reply's error.code. */
export const LLM_ERROR_CODES = API_ERROR_CODES;
export type LlmErrorCode = ApiErrorCode;

/**
 * Whose condition an error is, which decides what the worker does with the request:
 * - `request`: this request's own (bad input, a model it may not use, a one-off failure): retry or fail it;
 * - `service`: the API is down or overloaded for everyone (5xx, timeouts, refused connections): the model's
 *   circuit breaker decides, and the request waits without spending its retry budget while the circuit is open;
 * - `account`: the key or the account (401/403, no quota): every request would fail until an operator acts, so
 *   the request goes back behind the account gate and nothing is failed.
 */
export type ErrorScope = "request" | "service" | "account";

const SCOPE_OF: Partial<Record<LlmErrorCode, ErrorScope>> = {
  auth: "account",
  quota: "account",
  server_error: "service",
  timeout: "service",
  connection: "service",
};

const RETRYABLE_BY_DEFAULT: ReadonlySet<LlmErrorCode> = new Set([
  "rate_limited",
  "server_error",
  "timeout",
  "connection",
  "conflict",
]);

export class LlmError extends Error {
  override readonly name = "LlmError";
  readonly code: LlmErrorCode;
  /**
   * The one property retry decisions read: trying the same request again may succeed. The server's
   * `x-should-retry` header, when present, wins over the status code (as openai-node's shouldRetry does).
   */
  readonly retryable: boolean;
  readonly scope: ErrorScope;
  readonly status: number | undefined;
  /** What the API asked us to wait (retry-after-ms / retry-after), when it said. */
  readonly retryAfterMs: number | undefined;
  readonly headers: Headers | undefined;

  constructor(
    code: LlmErrorCode,
    message: string,
    extra: {
      status?: number | undefined;
      retryAfterMs?: number | undefined;
      headers?: Headers | undefined;
      /** The server's own verdict (x-should-retry); undefined = decide by the code. */
      shouldRetry?: boolean | undefined;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: extra.cause });
    this.code = code;
    this.scope = SCOPE_OF[code] ?? "request";
    this.retryable = extra.shouldRetry ?? RETRYABLE_BY_DEFAULT.has(code);
    this.status = extra.status;
    this.retryAfterMs = extra.retryAfterMs;
    this.headers = extra.headers;
  }
}
