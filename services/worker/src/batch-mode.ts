import type { Job } from "./job.ts";

/**
 * How batch-priority work is answered:
 *   sync      — through the synchronous API, like everything else (the default: nothing changes);
 *   batch_api — through OpenAI's Batch API (within 24 h, at the batch price);
 *   auto      — the Batch API while the synchronous budget is saturated, synchronously while it has room.
 */
export type BatchMode = "sync" | "batch_api" | "auto";
export const BATCH_MODES: readonly BatchMode[] = ["sync", "batch_api", "auto"];

export interface BatchModeSettings {
  default: BatchMode;
  /** Per tenant; a route's (or model name's) own mode wins over its tenant's. */
  tenants: Readonly<Record<string, BatchMode>>;
  routes: Readonly<Record<string, BatchMode>>;
  /** Every request read from these topics counts as batch priority (a reprocessing topic). */
  topics: readonly string[];
}

/** Only batch-priority work may wait 24 h: an interactive request never goes to the Batch API. */
export function isBatchWork(job: Pick<Job, "priority" | "source">, topics: readonly string[]): boolean {
  return job.priority === "batch" || topics.includes(job.source.topic);
}

export function modeOf(s: BatchModeSettings, tenant: string | undefined, model: string): BatchMode {
  return s.routes[model] ?? (tenant === undefined ? undefined : s.tenants[tenant]) ?? s.default;
}

/** Whether this job goes to the Batch API now. `syncBusy`: the synchronous budget has a queue (for auto). */
export function goesToBatchApi(
  job: Pick<Job, "priority" | "source" | "model" | "request">,
  s: BatchModeSettings,
  syncBusy: () => boolean,
): boolean {
  if (!isBatchWork(job, s.topics)) return false;
  const mode = modeOf(s, job.request.tenant, job.model);
  return mode === "batch_api" || (mode === "auto" && syncBusy());
}

/** True when any setting can send work to the Batch API (else the worker starts no batch machinery). */
export function batchApiEnabled(s: BatchModeSettings): boolean {
  return [s.default, ...Object.values(s.tenants), ...Object.values(s.routes)].some((m) => m !== "sync");
}
