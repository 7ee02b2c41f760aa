import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { LANGUAGES } from "./language.ts";
import { BUILTIN_ENTITIES } from "./pii/entity.ts";
import { TOPICS } from "./topics.ts";

export const MODERATION_CATEGORIES = [
  "harassment",
  "harassment/threatening",
  "hate",
  "hate/threatening",
  "illicit",
  "illicit/violent",
  "self-harm",
  "self-harm/intent",
  "self-harm/instructions",
  "sexual",
  "sexual/minors",
  "violence",
  "violence/graphic",
] as const;
export type ModerationCategory = (typeof MODERATION_CATEGORIES)[number];

const Operator = z.enum(["replace", "mask", "hash", "reversible"]);
const CustomEntity = z.union([
  z.strictObject({
    entity: z.string().regex(/^[A-Z][A-Z0-9_]*$/, "an upper-case name like PERSON"),
    terms: z.array(z.string().min(2)).min(1),
    caseSensitive: z.boolean().optional(),
  }),
  z.strictObject({
    entity: z.string().regex(/^[A-Z][A-Z0-9_]*$/, "an upper-case name like ADDRESS"),
    pattern: z.string().min(1).refine(compiles, "must be a valid regular expression"),
    flags: z
      .string()
      .regex(/^[imsuy]*$/)
      .optional(),
  }),
]);
const CategoryRule = z.strictObject({
  threshold: z.number().min(0).max(1),
  action: z.enum(["block", "flag"]),
});

/** One tenant's guardrails. Every field has a default, so `{}` is a valid policy (the default one). */
export const PolicySchema = z.strictObject({
  pii: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** The operator of every entity type without one of its own. */
      operator: Operator.default("reversible"),
      operators: z.partialRecord(z.string(), Operator).default({}),
      /** Built-in types switched off for this tenant. */
      disabled: z.array(z.enum(BUILTIN_ENTITIES)).default([]),
      custom: z.array(CustomEntity).default([]),
      hashSalt: z.string().default(""),
    })
    .prefault({}),
  moderation: z
    .strictObject({
      enabled: z.boolean().default(false),
      model: z.string().min(1).default("omni-moderation-latest"),
      input: z.boolean().default(true),
      output: z.boolean().default(true),
      /** The API away: answer unmoderated (fail_open) or wait for it like any outage (fail_closed). */
      onOutage: z.enum(["fail_open", "fail_closed"]).default("fail_closed"),
      /** The rule of every category without one of its own. */
      default: CategoryRule.default({ threshold: 0.5, action: "block" }),
      categories: z.partialRecord(z.enum(MODERATION_CATEGORIES), CategoryRule).default({}),
    })
    .prefault({}),
  topics: z.partialRecord(z.enum(TOPICS), z.enum(["refuse", "disclaim", "allow"])).default({}),
  language: z
    .strictObject({
      detect: z.boolean().default(true),
      /** Answers always in this language (the user's is still detected and recorded). */
      fixed: z.enum(LANGUAGES).optional(),
    })
    .prefault({}),
  injection: z
    .strictObject({
      action: z.enum(["off", "flag", "block"]).default("flag"),
    })
    .prefault({}),
});
export type Policy = z.infer<typeof PolicySchema>;
type PolicyInput = z.input<typeof PolicySchema>;

/** The policy file: a default for every tenant, and per-tenant overrides merged over it (objects deeply). */
const PolicyFileSchema = z.strictObject({
  default: z.record(z.string(), z.unknown()).default({}),
  tenants: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
});

export class PolicyError extends Error {
  override readonly name = "PolicyError";
  readonly code = "guardrails_policy_invalid";
}

export interface PolicyBook {
  /** The policy of a tenant (the default for a request without one or a tenant without an override). */
  of(tenant: string | undefined): Policy;
}

/** Validates every policy once, at start: a bad override is named with its tenant, never found at request time. */
export function policyBook(raw: unknown): PolicyBook {
  const file = PolicyFileSchema.safeParse(raw ?? {});
  if (!file.success) throw new PolicyError(`guardrails policy: ${z.prettifyError(file.error)}`);
  const parse = (name: string, input: unknown): Policy => {
    const parsed = PolicySchema.safeParse(input);
    if (!parsed.success) throw new PolicyError(`guardrails policy ${name}: ${z.prettifyError(parsed.error)}`);
    return parsed.data;
  };
  const fallback = parse("default", file.data.default);
  const tenants = new Map<string, Policy>();
  for (const [tenant, override] of Object.entries(file.data.tenants)) {
    tenants.set(tenant, parse(`of tenant ${tenant}`, mergeDeep(file.data.default, override)));
  }
  return { of: (tenant) => (tenant === undefined ? fallback : (tenants.get(tenant) ?? fallback)) };
}

/** The policy file, JSON or YAML (by extension); absent: every tenant gets the default policy. */
export function loadPolicyBook(path: string | undefined): PolicyBook {
  if (path === undefined) return policyBook({});
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new PolicyError(`guardrails policy file ${path} cannot be read: ${(err as Error).message}`);
  }
  try {
    return policyBook(/\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text));
  } catch (err) {
    if (err instanceof PolicyError) throw err;
    throw new PolicyError(
      `guardrails policy file ${path} is not valid ${/\.ya?ml$/i.test(path) ? "YAML" : "JSON"}: ${(err as Error).message}`,
    );
  }
}

export function defaultPolicy(overrides: PolicyInput = {}): Policy {
  return PolicySchema.parse(overrides);
}

function mergeDeep(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? mergeDeep(b, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
