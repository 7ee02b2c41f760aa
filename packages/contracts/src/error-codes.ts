/**
 * The codes a `failed` reply carries in `error.code`: every way an API call can fail, as chatq classifies it.
 * Stable: producers branch on them, and they are the error_class label of chatq's metrics.
 * (A `rejected` reply carries one of REJECT_CODES instead.)
 */
export const API_ERROR_CODES = [
  "rate_limited",
  "server_error",
  "timeout",
  "connection",
  "conflict",
  "bad_request",
  "context_length",
  "not_found",
  "auth",
  "quota",
  "unknown",
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];
