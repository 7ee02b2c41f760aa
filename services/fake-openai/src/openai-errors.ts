import type { z } from "zod";
import { formatOpenAIDuration } from "./duration-format.ts";
import type { LimitKind } from "./rate-limiter.ts";

/** The fake's organization, as it appears in rate-limit messages and the openai-organization header. */
export const FAKE_ORGANIZATION = "org-fake";

/** The body OpenAI sends with every error: `{ "error": { message, type, param, code } }`. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error answer: status, OpenAI body and any extra headers (retry-after…). */
export class ApiErrorReply extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    type: string,
    message: string,
    options: { param?: string | null; code?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "ApiErrorReply";
    this.status = status;
    this.type = type;
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function invalidRequest(message: string, param: string | null, code: string | null): ApiErrorReply {
  return new ApiErrorReply(400, "invalid_request_error", message, { param, code });
}

/** A body parsed by its schema, or the 400 the real API answers naming the first bad field. */
export function parseBody<T>(schema: z.ZodType<T>, raw: unknown): T {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw invalidRequest(
    `Invalid request: ${issue?.message ?? "bad body"}`,
    issue?.path.join(".") ?? null,
    null,
  );
}

/** Show a key the way OpenAI does: a known prefix, then stars, then only the last four characters. */
export function maskApiKey(key: string): string {
  const prefix = /^sk-(?:proj-|svcacct-|admin-)?/.exec(key)?.[0] ?? "";
  if (key.length - prefix.length <= 4) return `${prefix}${"*".repeat(key.length - prefix.length)}`;
  const hidden = key.length - prefix.length - 4;
  return `${prefix}${"*".repeat(hidden)}${key.slice(-4)}`;
}

export function missingApiKey(): ApiErrorReply {
  return new ApiErrorReply(
    401,
    "invalid_request_error",
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys.",
    { code: "invalid_api_key" },
  );
}

export function incorrectApiKey(key: string): ApiErrorReply {
  return new ApiErrorReply(
    401,
    "invalid_request_error",
    `Incorrect API key provided: ${maskApiKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
    { code: "invalid_api_key" },
  );
}

export function modelNotFound(name: string): ApiErrorReply {
  return new ApiErrorReply(
    404,
    "invalid_request_error",
    `The model \`${name}\` does not exist or you do not have access to it.`,
    { code: "model_not_found" },
  );
}

export function invalidUrl(method: string, path: string): ApiErrorReply {
  return new ApiErrorReply(404, "invalid_request_error", `Invalid URL (${method} ${path})`);
}

export function methodNotAllowed(method: string, path: string): ApiErrorReply {
  return new ApiErrorReply(
    405,
    "invalid_request_error",
    `Not allowed to ${method} on ${path}. (HINT: Perhaps you meant to use a different HTTP method?)`,
  );
}

export function unparsableJson(): ApiErrorReply {
  return invalidRequest(
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    null,
    null,
  );
}

export function bodyTooLarge(limitBytes: number): ApiErrorReply {
  return new ApiErrorReply(
    413,
    "invalid_request_error",
    `Request body too large: the limit is ${limitBytes} bytes.`,
  );
}

export function streamingUnsupported(): ApiErrorReply {
  return invalidRequest(
    "Streaming (`stream: true`) is not supported by chatq's fake OpenAI server. Send the request without `stream` (or with `stream: false`).",
    "stream",
    "unsupported_parameter",
  );
}

export function unsupportedByFake(param: string, what: string): ApiErrorReply {
  return invalidRequest(
    `${what} is not supported by chatq's fake OpenAI server.`,
    param,
    "unsupported_parameter",
  );
}

export function rateLimited(
  model: string,
  kind: LimitKind,
  figures: { limit: number; used: number; requested: number; retryAfterMs: number },
  headers: Record<string, string>,
): ApiErrorReply {
  const unit = kind === "requests" ? "requests per min (RPM)" : "tokens per min (TPM)";
  const message = `Rate limit reached for ${model} in organization ${FAKE_ORGANIZATION} on ${unit}: Limit ${figures.limit}, Used ${figures.used}, Requested ${figures.requested}. Please try again in ${formatOpenAIDuration(figures.retryAfterMs)}. Visit https://platform.openai.com/account/rate-limits to learn more.`;
  return new ApiErrorReply(429, kind, message, {
    code: "rate_limit_exceeded",
    headers: { ...headers, ...retryAfterHeaders(figures.retryAfterMs) },
  });
}

/** One request is larger than the whole per-minute budget: no wait would let it through. */
export function requestTooLarge(
  model: string,
  figures: { limit: number; requested: number },
  headers: Record<string, string>,
): ApiErrorReply {
  const message = `Request too large for ${model} in organization ${FAKE_ORGANIZATION} on tokens per min (TPM): Limit ${figures.limit}, Requested ${figures.requested}. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.`;
  return new ApiErrorReply(429, "tokens", message, { code: "rate_limit_exceeded", headers });
}

export function insufficientQuota(): ApiErrorReply {
  return new ApiErrorReply(
    429,
    "insufficient_quota",
    "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
    { code: "insufficient_quota" },
  );
}

export function retryAfterHeaders(retryAfterMs: number): Record<string, string> {
  return {
    "retry-after-ms": String(Math.ceil(retryAfterMs)),
    "retry-after": String(Math.ceil(retryAfterMs / 1000)),
  };
}

const SERVER_ERROR_MESSAGES: Record<number, string> = {
  500: "The server had an error while processing your request. Sorry about that!",
  502: "Bad gateway.",
  503: "The server is overloaded or not ready yet.",
  504: "Gateway timeout.",
};

/** The API (or the gateway in front of it) is down: OpenAI's server_error body, with the wait it asks for if any. */
export function serverUnavailable(status: number, retryAfterMs?: number): ApiErrorReply {
  const message = SERVER_ERROR_MESSAGES[status] ?? "The server had an error while processing your request.";
  return new ApiErrorReply(status, "server_error", message, {
    headers: retryAfterMs === undefined ? {} : retryAfterHeaders(retryAfterMs),
  });
}

/** An injected failure with the status a test asked for, in the body OpenAI would send. */
export function injectedFailure(status: number): ApiErrorReply {
  if (status >= 500) {
    const message = SERVER_ERROR_MESSAGES[status] ?? "The server had an error while processing your request.";
    return new ApiErrorReply(status, "server_error", message);
  }
  switch (status) {
    case 400:
      return invalidRequest(
        "Injected failure: the fake was told to reject this request ([[fail:400]]).",
        null,
        null,
      );
    case 401:
      return new ApiErrorReply(
        401,
        "invalid_request_error",
        "Injected failure: invalid authentication ([[fail:401]]).",
        {
          code: "invalid_api_key",
        },
      );
    case 403:
      return new ApiErrorReply(
        403,
        "invalid_request_error",
        "Injected failure: permission denied ([[fail:403]]).",
        {
          code: "unsupported_country_region_territory",
        },
      );
    case 404:
      return new ApiErrorReply(404, "invalid_request_error", "Injected failure: not found ([[fail:404]]).");
    case 409:
      return new ApiErrorReply(409, "invalid_request_error", "Injected failure: conflict ([[fail:409]]).");
    case 422:
      return new ApiErrorReply(
        422,
        "invalid_request_error",
        "Injected failure: unprocessable entity ([[fail:422]]).",
      );
    default:
      return new ApiErrorReply(status, "invalid_request_error", `Injected failure (${status}).`);
  }
}
