// One reading of the API's wait headers for the whole project: the limiter's, tested there.
import { parseRetryAfter } from "@chatq/ratelimit";
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { LlmError, type LlmErrorCode } from "./llm-error.ts";

/** Maps whatever the SDK threw to an LlmError. Pure: status, body code, headers and class decide, never the message. */
export function classifyError(err: unknown): LlmError {
  if (err instanceof LlmError) return err;
  if (err instanceof APIConnectionTimeoutError)
    return new LlmError("timeout", "the API did not answer in time", { cause: err });
  if (err instanceof APIUserAbortError)
    return new LlmError("timeout", "the call was aborted", { cause: err });
  if (err instanceof APIConnectionError) {
    return new LlmError("connection", `cannot reach the API: ${err.message}`, { cause: err });
  }
  if (err instanceof APIError) {
    const headers = err.headers instanceof Headers ? err.headers : undefined;
    const code = codeForStatus(err.status, err.code ?? undefined);
    return new LlmError(code, err.message, {
      status: err.status,
      retryAfterMs: headers ? parseRetryAfter(headers) : undefined,
      headers,
      shouldRetry: shouldRetryHeader(headers),
      cause: err,
    });
  }
  return new LlmError("unknown", err instanceof Error ? err.message : String(err), { cause: err });
}

/** `x-should-retry: true|false`: the server says whether retrying can help; anything else says nothing. */
export function shouldRetryHeader(headers: Headers | undefined): boolean | undefined {
  const v = headers?.get("x-should-retry")?.trim().toLowerCase();
  return v === "true" ? true : v === "false" ? false : undefined;
}

export function codeForStatus(status: number | undefined, bodyCode?: string): LlmErrorCode {
  if (status === undefined) return "connection";
  // A project without access to one model gets 403 model_not_found: that model's requests fail, not the account.
  if (status === 403 && bodyCode === "model_not_found") return "not_found";
  if (status === 401 || status === 403) return "auth";
  // OpenAI answers 429 both for "slow down" and for "your account has no credit"; only the first passes.
  if (status === 429) return bodyCode === "insufficient_quota" ? "quota" : "rate_limited";
  if (status === 408) return "timeout";
  if (status === 409) return "conflict";
  if (status === 404) return "not_found";
  if (status === 400 && bodyCode === "context_length_exceeded") return "context_length";
  if (status === 400 || status === 422) return "bad_request";
  if (status >= 500) return "server_error";
  return "unknown";
}
