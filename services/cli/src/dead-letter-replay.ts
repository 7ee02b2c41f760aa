import type { ChatRequest } from "@chatq/contracts";
import { replayId } from "./replay-request.ts";

/**
 * A dead letter as a new request: its value as it was, with a new request_id (the old one may already have its
 * `rejected` answer, which a replay under the same id would only get back) and `replay_of` naming the original id,
 * or the dead letter itself (`dlq:partition:offset`) when the message had none. Bytes that are not a JSON object
 * cannot be made into a request: they are reported, not published.
 */
export function deadLetterReplay(
  d: { id: string; value: Buffer | null },
  jobId: string,
  now: Date,
): { ok: true; request: ChatRequest } | { ok: false; why: string } {
  let value: unknown;
  try {
    value = JSON.parse(d.value?.toString("utf8") ?? "");
  } catch {
    return { ok: false, why: "its value is not JSON; fix and publish it yourself" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, why: "its value is not a JSON object" };
  }
  const original = value as Record<string, unknown>;
  const originalId =
    typeof original.request_id === "string" && original.request_id.length > 0
      ? original.request_id
      : `dlq:${d.id}`;
  const request = {
    ...original,
    request_id: replayId(jobId, originalId),
    replay_of: originalId.slice(0, 128),
    created_at: now.toISOString(),
  } as ChatRequest;
  return { ok: true, request };
}
