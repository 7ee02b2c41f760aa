import { createHash } from "node:crypto";
import type { ChatRequest } from "@chatq/contracts";

const MAX_ID = 128;

/**
 * The id of an original's replay in one job: the same every time, so a replay resumed after a crash between its
 * publish and its cursor update re-publishes the same ids, which the worker answers once (request_id idempotency).
 */
export function replayId(jobId: string, originalId: string): string {
  const tag = jobId.replaceAll("-", "").slice(0, 8);
  const readable = `${originalId}~r${tag}`;
  if (readable.length <= MAX_ID) return readable;
  const digest = createHash("sha256").update(originalId).digest("hex").slice(0, 32);
  return `${originalId.slice(0, MAX_ID - digest.length - tag.length - 4)}~${digest}~r${tag}`;
}

export interface ReplayOptions {
  /** Another model or route name to run it on. */
  model?: string | undefined;
  now: Date;
}

/**
 * A stored request as a new one: a new id linked by `replay_of`, batch priority (it only gets budget interactive
 * work leaves), no reply_topic (a gateway's topic may be gone; replies go to the worker's own), and its
 * conversation under a name of the job's, so replaying a conversation's turns in order rebuilds its own history
 * without appending to the live one.
 */
export function replayRequest(original: ChatRequest, jobId: string, o: ReplayOptions): ChatRequest {
  const { reply_topic: _replyTopic, ...rest } = original;
  const tag = jobId.replaceAll("-", "").slice(0, 8);
  const conversation =
    original.conversation_id === undefined
      ? undefined
      : `replay-${tag}:${original.conversation_id}`.slice(0, MAX_ID);
  return {
    ...rest,
    request_id: replayId(jobId, original.request_id),
    replay_of: original.request_id,
    priority: "batch",
    created_at: o.now.toISOString(),
    ...(conversation !== undefined && { conversation_id: conversation }),
    ...(o.model !== undefined && { model: o.model }),
  };
}
