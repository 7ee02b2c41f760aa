/** Base of the limiter's errors: branch on `code` or the class, never on the message. */
export class RateLimiterError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, retryable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = "RateLimiterError";
    this.code = code;
    this.retryable = retryable;
  }
}

/** The caller's AbortSignal fired while the request waited for budget. */
export class RateLimitAbortedError extends RateLimiterError {
  constructor(reason: unknown) {
    super("RATE_LIMIT_ABORTED", "rate-limit wait aborted", false, { cause: reason });
    // Same name as DOM abort errors so generic `err.name === "AbortError"` checks work.
    this.name = "AbortError";
  }
}

/** More tokens than the model's whole TPM: OpenAI would refuse it ("request too large") forever. */
export class RequestTooLargeError extends RateLimiterError {
  readonly model: string;
  readonly tokens: number;
  readonly maxTokens: number;

  constructor(model: string, tokens: number, maxTokens: number) {
    super(
      "RATE_LIMIT_REQUEST_TOO_LARGE",
      `request of ${tokens} tokens can never fit ${model}'s limit of ${maxTokens} tokens per minute`,
      false,
    );
    this.name = "RequestTooLargeError";
    this.model = model;
    this.tokens = tokens;
    this.maxTokens = maxTokens;
  }
}

/** tokens was negative or not a number: a bug in the caller's estimate. */
export class InvalidAcquireError extends RateLimiterError {
  constructor(message: string) {
    super("RATE_LIMIT_INVALID_REQUEST", message, false);
    this.name = "InvalidAcquireError";
  }
}

/** close() was called: another replica (or this one after restart) can still do the work. */
export class RateLimiterClosedError extends RateLimiterError {
  constructor() {
    super("RATE_LIMITER_CLOSED", "rate limiter closed", true);
    this.name = "RateLimiterClosedError";
  }
}
