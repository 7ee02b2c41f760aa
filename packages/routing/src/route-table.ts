import { z } from "zod";

/**
 * Ids become metric labels, limiter buckets and circuit names: a short, bounded alphabet keeps them safe in all
 * three (and a route file is written by an operator, so a bad one is refused at load, not at the first request).
 */
const id = z.string().regex(/^[a-zA-Z0-9._-]{1,64}$/, "must be 1-64 characters of a-z A-Z 0-9 . _ -");
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name (A-Z, 0-9, _)");
const httpUrl = z
  .url({ error: "must be an http(s) URL" })
  .refine((v) => ["http:", "https:"].includes(new URL(v).protocol), { error: "must use http: or https:" });
const day = z.iso.date({ error: "must be a date like 2027-01-31" });

export const DeploymentSchema = z
  .object({
    /** The model id sent to the API (for Azure: the model behind the deployment, for prices and tokenizers). */
    model: z.string().min(1).max(128),
    /** Any OpenAI-compatible server; absent: the worker's OPENAI_BASE_URL. */
    base_url: httpUrl.optional(),
    /** The NAME of the environment variable holding the key: a key never sits in the route file. */
    api_key_env: envName.optional(),
    /** Azure OpenAI: calls go to {base_url}/openai/deployments/{deployment}/chat/completions?api-version=… */
    azure: z.object({ deployment: z.string().min(1).max(128), api_version: z.string().min(1) }).optional(),
    /** This deployment's own budget in the shared limiter (0 = unlimited); absent: the worker's default. */
    limits: z.object({ rpm: z.int().min(0), tpm: z.int().min(0) }).optional(),
    /** Longest wait for this deployment's budget before the next in the chain answers instead. */
    wait_budget_ms: z.int().min(0).optional(),
  })
  .strict()
  .refine((d) => d.azure === undefined || d.base_url !== undefined, {
    error: "an azure deployment needs base_url (https://{resource}.openai.azure.com)",
    path: ["base_url"],
  });

export const VariantSchema = z
  .object({
    name: id,
    deployment: id,
    /** Relative share of conversations; 0 keeps the variant for fallbacks only. */
    weight: z.number().min(0).max(1_000_000),
  })
  .strict();

export const RouteSchema = z
  .object({
    variants: z.array(VariantSchema).min(1).max(16),
    /** Deployments tried in order after the chosen variant's (which is skipped if listed). */
    fallbacks: z.array(id).max(16).default([]),
  })
  .strict()
  .refine((r) => r.variants.some((v) => v.weight > 0), {
    error: "at least one variant needs a weight above 0",
    path: ["variants"],
  })
  .refine((r) => new Set(r.variants.map((v) => v.name)).size === r.variants.length, {
    error: "variant names must be unique within a route",
    path: ["variants"],
  });

export const DeprecationSchema = z
  .object({
    retires: day,
    /** A model id or a route name that takes the traffic once the model is retired. */
    replacement: z.string().min(1).max(128),
    /** After retirement: send to the replacement, or reject the request (`model_retired`). */
    on_retired: z.enum(["route", "reject"]).default("route"),
  })
  .strict();

export const RouteTableSchema = z
  .object({
    /** Written into logs at each load, so an operator can tell which file is serving. */
    version: z.string().min(1).max(64).optional(),
    deployments: z.record(id, DeploymentSchema),
    routes: z.record(id, RouteSchema),
    deprecations: z.record(z.string().min(1).max(128), DeprecationSchema).default({}),
  })
  .strict()
  .superRefine((t, ctx) => {
    for (const [name, route] of Object.entries(t.routes)) {
      route.variants.forEach((v, i) => {
        if (!(v.deployment in t.deployments)) {
          ctx.addIssue({
            code: "custom",
            path: ["routes", name, "variants", i, "deployment"],
            message: `unknown deployment "${v.deployment}"; known: ${Object.keys(t.deployments).join(", ") || "(none)"}`,
          });
        }
      });
      route.fallbacks.forEach((d, i) => {
        if (!(d in t.deployments)) {
          ctx.addIssue({
            code: "custom",
            path: ["routes", name, "fallbacks", i],
            message: `unknown deployment "${d}"`,
          });
        }
      });
    }
  });

export type Deployment = z.infer<typeof DeploymentSchema>;
export type Variant = z.infer<typeof VariantSchema>;
export type Route = z.infer<typeof RouteSchema>;
export type Deprecation = z.infer<typeof DeprecationSchema>;
export type RouteTable = z.infer<typeof RouteTableSchema>;

export class RouteTableError extends Error {
  override readonly name = "RouteTableError";
  readonly code = "invalid_route_table";
  readonly retryable = false;
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`route table ${source} refused:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

/** Validates a parsed route file; every problem is named, with its path, in one error. */
export function parseRouteTable(input: unknown, source = "(inline)"): RouteTable {
  const parsed = RouteTableSchema.safeParse(input);
  if (!parsed.success) {
    throw new RouteTableError(
      source,
      parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    );
  }
  return parsed.data;
}

/** An empty table: every model name is its own plain model on the worker's default deployment. */
export const EMPTY_ROUTE_TABLE: RouteTable = { deployments: {}, routes: {}, deprecations: {} };
