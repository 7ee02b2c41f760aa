import type { z } from "zod";

/** Every bad or missing variable at once, so an operator fixes a deployment in one pass, not one per restart. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

/**
 * Validates an environment against `schema`. An empty value counts as unset: compose files and Kubernetes
 * manifests write `FOO=` for "not set", and a default should then apply rather than a parse error.
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): z.infer<S> {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  return parsed.data;
}

/** For a process's main: a configuration error is the operator's to fix, so print it plainly and exit 2. */
export function loadOrExit<C>(load: () => C, stderr: (line: string) => void = console.error): C {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    stderr(err.message);
    process.exit(2);
  }
}
