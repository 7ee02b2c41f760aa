import { type ApiErrorReply, incorrectApiKey, missingApiKey, serverUnavailable } from "./openai-errors.ts";
import type { Outage } from "./options.ts";

/** What a /v1 call gets during an outage: an error answer, or no answer at all. */
export type OutageAnswer = { kind: "error"; reply: ApiErrorReply } | { kind: "hang" };

/**
 * The answer to any /v1 call while `outage` lasts; undefined when calls are served normally. Pure: the server
 * decides when an outage starts and ends, this only what it looks like. (A refused connection never gets here.)
 */
export function outageAnswer(
  outage: Outage | null,
  presentedKey: string | undefined,
): OutageAnswer | undefined {
  switch (outage?.kind) {
    case "server_error":
      return { kind: "error", reply: serverUnavailable(outage.status ?? 503, outage.retryAfterMs) };
    case "invalid_api_key":
      return { kind: "error", reply: presentedKey ? incorrectApiKey(presentedKey) : missingApiKey() };
    case "hang":
      return { kind: "hang" };
    default:
      return undefined;
  }
}
