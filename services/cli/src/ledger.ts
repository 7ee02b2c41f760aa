import { loadPriceTable, priceOf } from "@chatq/llm";
import { readRouteFile } from "@chatq/routing";
import { createStore, type SpendPeriod, type Store } from "@chatq/store";
import type { CliEnv } from "./cli-config.ts";
import { formatComparison, formatSpend, formatUnpriced, parseSince, unpriced } from "./ledger-report.ts";

async function withStore<T>(env: CliEnv, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await createStore({
    databaseUrl: env.databaseUrl,
    poolSize: 1,
    applicationName: "chatq-cli",
    ...(env.databaseSchema !== undefined && { schema: env.databaseSchema }),
  });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export interface SpendOptions {
  tenant?: string | undefined;
  route?: string | undefined;
  since: string;
  by: SpendPeriod;
  json: boolean;
}

/** `chatq spend`: spend per UTC day or month, tenant and route, from the usage ledger. */
export async function spend(env: CliEnv, o: SpendOptions): Promise<string> {
  const since = parseSince(o.since, Date.now());
  const rows = await withStore(env, (s) =>
    s.spend({ tenant: o.tenant, route: o.route, since, period: o.by }),
  );
  return o.json ? JSON.stringify(rows, null, 2) : formatSpend(rows);
}

/** `chatq prices check`: models seen in traffic since `since` with no price in the table in force. */
export async function pricesCheck(
  env: CliEnv,
  o: { since: string; json: boolean },
): Promise<{ text: string; missing: number }> {
  const prices = loadPriceTable(env.pricesFile, { version: env.pricesVersion, models: env.priceOverrides });
  const seen = await withStore(env, (s) => s.modelsSeen(parseSince(o.since, Date.now())));
  const missing = unpriced(seen, (m) => priceOf(prices, m) !== undefined);
  const text = o.json
    ? JSON.stringify({ price_version: prices.version, missing }, null, 2)
    : formatUnpriced(missing, prices.version);
  return { text, missing: missing.length };
}

/** `chatq compare`: variants of a route side by side over a period. */
export async function compare(
  env: CliEnv,
  o: { route: string; variants: string[]; since: string; json: boolean },
): Promise<string> {
  const since = parseSince(o.since, Date.now());
  const figures = await withStore(env, (s) =>
    s.compareVariants({ route: o.route, variants: o.variants, since }),
  );
  return o.json
    ? JSON.stringify({ route: o.route, since, variants: figures }, null, 2)
    : formatComparison(o.route, figures);
}

/** `chatq routes check FILE`: what the worker would say at reload, before the file is deployed. */
export function routesCheck(path: string): string {
  const t = readRouteFile(path);
  const routes = Object.entries(t.routes).map(
    ([name, r]) =>
      `${name}: ${r.variants.map((v) => `${v.name}→${v.deployment} (${v.weight})`).join(", ")}${r.fallbacks.length > 0 ? `; then ${r.fallbacks.join(", ")}` : ""}`,
  );
  return [`${path}: ok (version ${t.version ?? "-"})`, ...routes].join("\n");
}
