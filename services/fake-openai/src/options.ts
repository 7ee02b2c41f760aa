import { z } from "zod";
import type { BatchSettings } from "./batches.ts";
import type { RandomSource } from "./prng.ts";
import type { ModelLimits } from "./rate-limiter.ts";

/** Behaviour that can be changed while the server runs (configure() and POST /_fake/config). */
export interface FakeOpenAIConfig {
  /** The only key accepted as `Authorization: Bearer <key>`; null accepts any key (a header is still required). */
  apiKey: string | null;
  /** Added to every successful answer and injected 5xx, ± a uniform jitterMs. */
  latencyMs: number;
  jitterMs: number;
  /** Default per-model limits (each model has its own budget, as on OpenAI); 0 = unlimited. */
  rpm: number;
  tpm: number;
  /** Per-model overrides of rpm/tpm, keyed by model alias ("gpt-4o-mini"). */
  modelLimits: Record<string, ModelLimits>;
  /** Window the per-minute limits are enforced over: bucket capacity = limit × limitSliceMs / 60000. */
  limitSliceMs: number;
  /** Output tokens charged against TPM when a request sets neither max_tokens nor max_completion_tokens. */
  defaultMaxTokens: number;
  /** Filler words (≈ tokens) after the echo in each reply. */
  replyTokens: number;
  /** Probability of an injected 500/502/503 on an admitted request. */
  errorRate: number;
  /** Probability that an admitted request is never answered. */
  timeoutRate: number;
  /** Seed of the PRNG behind latency jitter and random faults. */
  seed: number;
  /** An outage of the whole API (every /v1 call) until cleared with null, or for `forMs` when given. */
  outage: Outage | null;
}

/** A partial config; undefined values change nothing. */
export type FakeOpenAIConfigPatch = { [K in keyof FakeOpenAIConfig]?: FakeOpenAIConfig[K] | undefined };

export interface FakeOpenAIOptions extends FakeOpenAIConfigPatch {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port, read it back from `port`/`url`. */
  port?: number;
  /** Replaces the seeded PRNG (tests that want to choose faults and latencies exactly). */
  random?: RandomSource;
  /** Monotonic clock in ms for the rate limiter; default performance.now. */
  now?: () => number;
  /** The Batch API's pace and limits (see batches.ts); also `POST /_fake/batches/config`. */
  batches?: Partial<BatchSettings>;
}

export const DEFAULT_CONFIG: Readonly<FakeOpenAIConfig> = {
  apiKey: null,
  latencyMs: 0,
  jitterMs: 0,
  rpm: 0,
  tpm: 0,
  modelLimits: {},
  limitSliceMs: 60_000,
  defaultMaxTokens: 1024,
  replyTokens: 20,
  errorRate: 0,
  timeoutRate: 0,
  seed: 0x5eed,
  outage: null,
};

const nonNegative = z.number().min(0);
const probability = z.number().min(0).max(1);
/** Ends by itself after this long; without it the outage lasts until `outage: null`. */
const forMs = z.number().positive().optional();

/**
 * What every /v1 call meets while the API is down, as a client sees it:
 *   server_error       — `status` (default 503) with OpenAI's server_error body, at once; `retryAfterMs` adds
 *                        retry-after-ms and retry-after headers.
 *   invalid_api_key    — 401 invalid_api_key whatever the key (a key rotated elsewhere), /v1/models included.
 *   insufficient_quota — 429 insufficient_quota for completions; /v1/models still answers, as OpenAI's does (listing
 *                        models costs no credit), so a probe there says the key works.
 *   hang               — accepted and never answered (the client's timeout is the only way out).
 *   refuse_connections — the listener is closed and every open socket dropped (ECONNREFUSED, ECONNRESET); it
 *                        listens again on the same port when the outage ends. Admin endpoints are gone too.
 */
export const OutageSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("server_error"),
    status: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]).optional(),
    retryAfterMs: nonNegative.optional(),
    forMs,
  }),
  z.strictObject({ kind: z.literal("invalid_api_key"), forMs }),
  z.strictObject({ kind: z.literal("insufficient_quota"), forMs }),
  z.strictObject({ kind: z.literal("hang"), forMs }),
  z.strictObject({ kind: z.literal("refuse_connections"), forMs }),
]);
export type Outage = z.infer<typeof OutageSchema>;

/** The shape accepted by POST /_fake/config and the CLI, so both validate the same way. */
export const ConfigPatchSchema = z.strictObject({
  apiKey: z.string().min(1).nullable().optional(),
  latencyMs: nonNegative.optional(),
  jitterMs: nonNegative.optional(),
  rpm: nonNegative.optional(),
  tpm: nonNegative.optional(),
  modelLimits: z
    .record(z.string(), z.strictObject({ rpm: nonNegative.optional(), tpm: nonNegative.optional() }))
    .optional(),
  limitSliceMs: z.number().positive().optional(),
  defaultMaxTokens: z.int().min(1).optional(),
  replyTokens: z.int().min(0).max(100_000).optional(),
  errorRate: probability.optional(),
  timeoutRate: probability.optional(),
  seed: z.int().optional(),
  outage: OutageSchema.nullable().optional(),
});

/** Applies a patch, skipping keys that are present but undefined (so `{ rpm: undefined }` changes nothing). */
export function applyPatch(config: FakeOpenAIConfig, patch: FakeOpenAIConfigPatch): FakeOpenAIConfig {
  const next: FakeOpenAIConfig = { ...config };
  for (const [key, value] of Object.entries(patch)) {
    if (value !== undefined && key in DEFAULT_CONFIG) Object.assign(next, { [key]: value });
  }
  return next;
}

/** Limits of one model: its override where set, else the defaults. */
export function limitsFor(config: FakeOpenAIConfig, model: string): ModelLimits {
  const override = config.modelLimits[model];
  return { rpm: override?.rpm ?? config.rpm, tpm: override?.tpm ?? config.tpm };
}

/** The config as admin endpoints show it: the key masked. */
export function publicConfig(
  config: FakeOpenAIConfig,
): Omit<FakeOpenAIConfig, "apiKey"> & { apiKey: string | null } {
  return { ...config, apiKey: config.apiKey === null ? null : `…${config.apiKey.slice(-4)}` };
}
