import {
  type ApiErrorReply,
  incorrectApiKey,
  insufficientQuota,
  missingApiKey,
  serverUnavailable,
} from "./openai-errors.ts";
import type { Outage } from "./options.ts";

/** What a /v1 call gets during an outage: an error answer, or no answer at all. */
export type OutageAnswer = { kind: "error"; reply: ApiErrorReply } | { kind: "hang" };

/** What an outage looks at in a call: the key it presented, and what it asked for. */
export interface OutageCall {
  presentedKey: string | undefined;
  endpoint: "completions" | "models" | "other";
}

/**
 * The answer to any /v1 call while `outage` lasts; undefined when calls are served normally. Pure: the server
 * decides when an outage starts and ends, this only what it looks like. (A refused connection never gets here.)
 */
export function outageAnswer(outage: Outage | null, call: OutageCall): OutageAnswer | undefined {
  const presentedKey = call.presentedKey;
  switch (outage?.kind) {
    case "server_error":
      return { kind: "error", reply: serverUnavailable(outage.status ?? 503, outage.retryAfterMs) };
    case "invalid_api_key":
      return { kind: "error", reply: presentedKey ? incorrectApiKey(presentedKey) : missingApiKey() };
    case "insufficient_quota":
      return call.endpoint === "completions" ? { kind: "error", reply: insufficientQuota() } : undefined;
    case "hang":
      return { kind: "hang" };
    default:
      return undefined;
  }
}
