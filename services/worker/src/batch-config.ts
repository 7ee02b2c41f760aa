import { csv, int, json } from "@chatq/config";
import { z } from "zod";
import { BATCH_API_MAX_BYTES, BATCH_API_MAX_REQUESTS } from "./batch-lines.ts";
import { BATCH_MODES, type BatchMode, type BatchModeSettings } from "./batch-mode.ts";

const mode = z.enum(BATCH_MODES as [BatchMode, ...BatchMode[]]);
const modes = json(
  z
    .object({
      tenants: z.record(z.string(), mode).default({}),
      routes: z.record(z.string(), mode).default({}),
    })
    .strict(),
  '{"tenants":{"acme":"batch_api"},"routes":{}}',
);

/** The Batch API path's environment (spread into the worker's EnvSchema). Default: off (`sync`). */
export const BATCH_ENV = {
  BATCH_MODE: mode.default("sync"),
  BATCH_MODES: modes.optional(),
  BATCH_TOPICS: csv.optional(),
  BATCH_MAX_REQUESTS: int(1, BATCH_API_MAX_REQUESTS).default(BATCH_API_MAX_REQUESTS),
  BATCH_MAX_BYTES: int(1024, BATCH_API_MAX_BYTES).default(BATCH_API_MAX_BYTES - 1024 * 1024),
  BATCH_MAX_WAIT_MS: int(0).default(60_000),
  BATCH_POLL_MIN_MS: int(10).default(10_000),
  BATCH_POLL_MAX_MS: int(10).default(300_000),
  BATCH_LEASE_MS: int(100).default(60_000),
  BATCH_DEADLINE_MS: int(0).default(72 * 3600_000),
} as const;

const BatchEnvSchema = z.object(BATCH_ENV);
type BatchEnv = z.infer<typeof BatchEnvSchema>;

export interface BatchConfig {
  modes: BatchModeSettings;
  maxRequests: number;
  maxBytes: number;
  maxWaitMs: number;
  pollMinMs: number;
  pollMaxMs: number;
  leaseMs: number;
  deadlineMs: number;
}

export function toBatchConfig(e: BatchEnv): BatchConfig {
  return {
    modes: {
      default: e.BATCH_MODE,
      tenants: e.BATCH_MODES?.tenants ?? {},
      routes: e.BATCH_MODES?.routes ?? {},
      topics: e.BATCH_TOPICS ?? [],
    },
    maxRequests: e.BATCH_MAX_REQUESTS,
    maxBytes: e.BATCH_MAX_BYTES,
    maxWaitMs: e.BATCH_MAX_WAIT_MS,
    pollMinMs: e.BATCH_POLL_MIN_MS,
    pollMaxMs: Math.max(e.BATCH_POLL_MIN_MS, e.BATCH_POLL_MAX_MS),
    leaseMs: e.BATCH_LEASE_MS,
    deadlineMs: e.BATCH_DEADLINE_MS,
  };
}
