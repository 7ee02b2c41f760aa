// The shapes environment variables come in, spelled once so every service reads `5000`, `true` or `a,b` alike.
import { z } from "zod";

export const int = (min: number, max: number = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);

export const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => ["true", "1", "yes"].includes(v));

/** `a, b,,c` → `["a", "b", "c"]`: blanks are dropped, so a trailing comma is harmless. */
export const csv = z.string().transform((v) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

export const url = (protocols: string[]) =>
  z
    .url({ error: `must be a URL (${protocols.join(" or ")})` })
    .refine((v) => protocols.includes(new URL(v).protocol), {
      error: `must use ${protocols.join(" or ")}`,
    });

/** A JSON value checked by `schema`; the error shows `example`, since "invalid JSON" alone helps nobody. */
export const json = <T extends z.ZodType>(schema: T, example: string) =>
  z
    .string()
    .transform((v, ctx) => {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: `must be JSON like ${example}` });
        return z.NEVER;
      }
    })
    .pipe(schema);

export const brokers = csv.pipe(z.array(z.string().regex(/^[^:,\s]+:\d+$/, "must be host:port")).min(1));

export const sqlIdentifier = z.string().regex(/^[a-z_][a-z0-9_]*$/, "must be a lowercase SQL identifier");

export const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/**
 * Encryption at rest (README: Data protection), read alike by every service that opens stored content: on unless
 * turned off explicitly, with the master key given inline or as a file.
 */
export const encryptionFields = {
  ENCRYPTION: z.enum(["on", "off"]).default("on"),
  CHATQ_MASTER_KEY: z.string().min(1).optional(),
  CHATQ_MASTER_KEY_FILE: z.string().min(1).optional(),
} as const;

export function encryptionSettings(e: {
  ENCRYPTION: "on" | "off";
  CHATQ_MASTER_KEY?: string | undefined;
  CHATQ_MASTER_KEY_FILE?: string | undefined;
}) {
  return {
    enabled: e.ENCRYPTION === "on",
    masterKey: e.CHATQ_MASTER_KEY,
    masterKeyFile: e.CHATQ_MASTER_KEY_FILE,
  };
}
