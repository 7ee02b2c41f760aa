/**
 * Every failure the gateway answers, in OpenAI's error shape and with its status, so the OpenAI SDKs raise their
 * own classes (400 BadRequestError, 401 AuthenticationError, 403 PermissionDeniedError, 404 NotFoundError,
 * 429 RateLimitError, 5xx InternalServerError).
 */
export const GATEWAY_ERROR_CODES = {
  invalid_json: { status: 400, type: "invalid_request_error" },
  invalid_request: { status: 400, type: "invalid_request_error" },
  request_rejected: { status: 400, type: "invalid_request_error" },
  missing_api_key: { status: 401, type: "invalid_request_error" },
  invalid_api_key: { status: 401, type: "invalid_request_error" },
  model_not_allowed: { status: 403, type: "invalid_request_error" },
  model_not_found: { status: 404, type: "invalid_request_error" },
  not_found: { status: 404, type: "invalid_request_error" },
  method_not_allowed: { status: 405, type: "invalid_request_error" },
  request_timeout: { status: 408, type: "invalid_request_error" },
  payload_too_large: { status: 413, type: "invalid_request_error" },
  unsupported_media_type: { status: 415, type: "invalid_request_error" },
  rate_limit_exceeded: { status: 429, type: "rate_limit_error" },
  budget_exceeded: { status: 429, type: "insufficient_quota" },
  upstream_error: { status: 502, type: "api_error" },
  kafka_unavailable: { status: 503, type: "api_error" },
  unavailable: { status: 503, type: "api_error" },
  reply_timeout: { status: 504, type: "api_error" },
  internal_error: { status: 500, type: "api_error" },
} as const;
export type GatewayErrorCode = keyof typeof GATEWAY_ERROR_CODES;

export class GatewayError extends Error {
  override readonly name = "GatewayError";
  readonly code: GatewayErrorCode;
  readonly status: number;
  readonly param: string | null;
  readonly retryAfterSeconds: number | undefined;
  readonly retryable: boolean;

  constructor(
    code: GatewayErrorCode,
    message: string,
    opts: { param?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.code = code;
    this.status = GATEWAY_ERROR_CODES[code].status;
    this.param = opts.param ?? null;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.retryable = this.status === 429 || this.status >= 500 || this.status === 408;
  }

  body(): { error: { message: string; type: string; param: string | null; code: string } } {
    return {
      error: {
        message: this.message,
        type: GATEWAY_ERROR_CODES[this.code].type,
        param: this.param,
        code: this.code,
      },
    };
  }
}
