import { type Resolution, type RouteTable, resolveRoute } from "@chatq/routing";
import type { Job } from "./job.ts";

/**
 * Where this job goes: its route's sticky variant (by conversation, else by request) and the fallback chain
 * behind it, or a plain model. The step before any call; pure given the table and the clock.
 */
export function routeRequest(job: Job, table: RouteTable, nowMs: number): Resolution {
  const stickyKey = job.request.conversation_id ?? job.request.request_id;
  return resolveRoute(table, job.model, stickyKey, nowMs);
}
