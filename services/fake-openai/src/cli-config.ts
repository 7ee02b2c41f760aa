import { parseArgs } from "node:util";
import { ConfigPatchSchema, type FakeOpenAIConfigPatch } from "./options.ts";

/** The standalone server's settings: flags first, then FAKE_OPENAI_* environment variables, then defaults. */
export interface CliConfig {
  host: string;
  port: number;
  patch: FakeOpenAIConfigPatch;
  /** `--batch-time-scale` (FAKE_OPENAI_BATCH_TIME_SCALE): simulated Batch API seconds per real second. */
  batches: { time_scale?: number };
}

export const CLI_DEFAULT_PORT = 8089;

/** Flag name → config key, and how its string value is read. Spelled once so flags and env vars agree. */
const SETTINGS = {
  "api-key": { key: "apiKey", kind: "string" },
  "latency-ms": { key: "latencyMs", kind: "number" },
  "jitter-ms": { key: "jitterMs", kind: "number" },
  rpm: { key: "rpm", kind: "number" },
  tpm: { key: "tpm", kind: "number" },
  "model-limits": { key: "modelLimits", kind: "json" },
  "limit-slice-ms": { key: "limitSliceMs", kind: "number" },
  "default-max-tokens": { key: "defaultMaxTokens", kind: "number" },
  "reply-tokens": { key: "replyTokens", kind: "number" },
  "error-rate": { key: "errorRate", kind: "number" },
  "timeout-rate": { key: "timeoutRate", kind: "number" },
  seed: { key: "seed", kind: "number" },
  outage: { key: "outage", kind: "json" },
} as const;

export class CliConfigError extends Error {
  readonly code = "invalid_cli_config";
}

/** "latency-ms" → FAKE_OPENAI_LATENCY_MS */
export function envName(flag: string): string {
  return `FAKE_OPENAI_${flag.toUpperCase().replaceAll("-", "_")}`;
}

export function parseCliConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): CliConfig {
  const flagOptions: Record<string, { type: "string" }> = {
    host: { type: "string" },
    port: { type: "string" },
    "batch-time-scale": { type: "string" },
  };
  for (const flag of Object.keys(SETTINGS)) flagOptions[flag] = { type: "string" };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: flagOptions,
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new CliConfigError(err instanceof Error ? err.message : String(err));
  }
  const read = (flag: string): string | undefined => {
    const value = values[flag];
    return typeof value === "string" ? value : env[envName(flag)];
  };

  const raw: Record<string, unknown> = {};
  for (const [flag, setting] of Object.entries(SETTINGS)) {
    const text = read(flag);
    if (text === undefined || text === "") continue;
    raw[setting.key] = convert(flag, text, setting.kind);
  }
  const parsed = ConfigPatchSchema.safeParse(raw);
  if (!parsed.success) throw new CliConfigError(`invalid settings: ${parsed.error.message}`);

  const portText = read("port");
  const port = portText === undefined || portText === "" ? CLI_DEFAULT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new CliConfigError(`invalid --port: ${portText}`);
  const scaleText = read("batch-time-scale");
  const scale = scaleText === undefined || scaleText === "" ? undefined : Number(scaleText);
  if (scale !== undefined && !(scale > 0))
    throw new CliConfigError(`invalid --batch-time-scale: ${scaleText}`);
  const batches = scale === undefined ? {} : { time_scale: scale };
  return { host: read("host") || "127.0.0.1", port, patch: parsed.data, batches };
}

function convert(flag: string, text: string, kind: "string" | "number" | "json"): unknown {
  if (kind === "string") return text;
  if (kind === "number") {
    const value = Number(text);
    if (!Number.isFinite(value)) throw new CliConfigError(`--${flag} must be a number, got "${text}"`);
    return value;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CliConfigError(`--${flag} must be JSON, got "${text}"`);
  }
}
