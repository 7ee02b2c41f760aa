import { API_ERROR_CODES, type ApiErrorCode } from "@chatq/contracts";

/** Every way an API call can fail, as a stable code: the worker branches on it, and it is the reply's error.code. */
export const LLM_ERROR_CODES = API_ERROR_CODES;
export type LlmErrorCode = ApiErrorCode;

/** Codes that say every request will fail until an operator acts: consumption pauses instead of failing them. */
const ACCOUNT_WIDE: ReadonlySet<LlmErrorCode> = new Set(["auth", "quota"]);
const RETRYABLE: ReadonlySet<LlmErrorCode> = new Set([
  "rate_limited",
  "server_error",
  "timeout",
  "connection",
  "conflict",
]);

export class LlmError extends Error {
  override readonly name = "LlmError";
  readonly code: LlmErrorCode;
  readonly retryable: boolean;
  /** The whole account is unusable (bad key, no quota): pause, don't fail the request. */
  readonly accountWide: boolean;
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
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: extra.cause });
    this.code = code;
    this.retryable = RETRYABLE.has(code);
    this.accountWide = ACCOUNT_WIDE.has(code);
    this.status = extra.status;
    this.retryAfterMs = extra.retryAfterMs;
    this.headers = extra.headers;
  }
}
