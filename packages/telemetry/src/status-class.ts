import type { StatusClass } from "./label-values.ts";

// Codes and class names that mean "no response in time" rather than "could not connect".
// openai-node throws APIConnectionTimeoutError (a subclass of APIConnectionError, status undefined);
// undici and Node sockets use these codes; AbortSignal.timeout() rejects with a TimeoutError.
const TIMEOUT_NAMES = new Set(["APIConnectionTimeoutError", "TimeoutError"]);
const TIMEOUT_CODES = new Set([
  "timeout",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/**
 * The status_class label for one OpenAI attempt, from its HTTP status or the error it threw.
 * An error carrying a numeric `status` is classed by that status; one without is a transport
 * failure: "timeout" when its class name or code says so, else "connection".
 */
export function statusClassOf(outcome: unknown): StatusClass {
  if (typeof outcome === "number") return classOfStatus(outcome);
  if (typeof outcome !== "object" || outcome === null) return "connection";
  const { status, code, name } = outcome as { status?: unknown; code?: unknown; name?: unknown };
  if (typeof status === "number") return classOfStatus(status);
  if (typeof code === "string" && TIMEOUT_CODES.has(code)) return "timeout";
  if (typeof name === "string" && TIMEOUT_NAMES.has(name)) return "timeout";
  const ctor = (outcome as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof ctor === "string" && TIMEOUT_NAMES.has(ctor)) return "timeout";
  return "connection";
}

function classOfStatus(status: number): StatusClass {
  if (status === 429) return "429";
  if (status >= 200 && status < 300) return "2xx";
  if (status >= 400 && status < 500) return "4xx";
  if (status >= 500 && status < 600) return "5xx";
  // 1xx/3xx never end an API call; keep them visible without inventing a class per code.
  return "other";
}
