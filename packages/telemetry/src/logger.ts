import { type DestinationStream, type Logger, pino } from "pino";
import pinoPretty from "pino-pretty";

export const REDACTED = "[redacted]";

// Paths reach two levels below the log call's object ({ request: { body: { messages } } }):
// pino redaction is path-based, so deeper nesting must be avoided by callers, not relied upon.

/** Credentials: redacted always, whatever logContent says. */
export const SECRET_PATHS = [
  "apiKey",
  "*.apiKey",
  "*.*.apiKey",
  "api_key",
  "*.api_key",
  "openaiApiKey",
  "*.openaiApiKey",
  "authorization",
  "*.authorization",
  "*.*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  'headers["api-key"]',
  'headers["x-api-key"]',
  "password",
  "*.password",
  "*.*.password",
] as const;

/**
 * What users wrote and what the model answered: redacted unless logContent (a debugging switch),
 * because logs are shipped and kept where chat content must not go.
 */
export const CONTENT_PATHS = [
  "content",
  "*.content",
  "*.*.content",
  "messages",
  "*.messages",
  "*.*.messages",
  "choices",
  "*.choices",
] as const;

export interface CreateLoggerOptions {
  /** pino level: fatal, error, warn, info, debug, trace, silent. */
  level: string;
  /** Human-readable colored lines for a person's terminal; JSON lines otherwise. */
  pretty?: boolean;
  /** Log message content (prompts, completions). Credentials stay redacted regardless. */
  logContent?: boolean;
  /** Becomes the `name` field of every line. */
  name?: string;
  /** Where lines go; default stdout. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  const paths = opts.logContent ? [...SECRET_PATHS] : [...SECRET_PATHS, ...CONTENT_PATHS];
  const options = {
    level: opts.level,
    redact: { paths, censor: REDACTED },
    ...(opts.name === undefined ? {} : { name: opts.name }),
  };
  // pino-pretty as an in-process stream rather than a transport: no worker thread to resolve
  // modules from, and nothing is lost on exit. Only for people watching a terminal.
  const destination =
    opts.destination ?? (opts.pretty ? pinoPretty({ colorize: true }) : pino.destination(1));
  return pino(options, destination);
}

export type { Logger };
