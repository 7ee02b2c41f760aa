import { type ChatClient, createChatClient, defaultPriceTable, type PriceTable } from "@chatq/llm";
import { EMPTY_ROUTE_TABLE, type RouteSource, type Target } from "@chatq/routing";
import type { Store } from "@chatq/store";
import type { RoutingDeps } from "./process-job.ts";
import { type BudgetPolicy, budgetOf, TenantSpend } from "./tenant-budget.ts";

/** No routes, the shipped prices, no budgets: a worker (or a test) that does not configure routing. */
export function plainRouting(): RoutingDeps {
  return {
    table: () => EMPTY_ROUTE_TABLE,
    clientFor: () => {
      throw new RangeError("no routed deployments without a route table");
    },
    waitBudgetMs: () => 0,
    prices: defaultPriceTable,
    budgetOf: () => undefined,
    tenantSpend: async () => ({ dayUsd: 0, monthUsd: 0 }),
    charge: () => {},
    clock: Date.now,
  };
}

export interface RoutingWiring {
  routes: RouteSource;
  prices: PriceTable;
  budgets: BudgetPolicy | undefined;
  store: Pick<Store, "tenantSpend">;
  /** The worker's own key and base URL: what a deployment without its own falls back to. */
  defaults: { apiKey: string; baseURL: string | undefined; organization: string | undefined };
  /** Reads a deployment's key reference (an environment variable name): config.ts's, the only env reader. */
  secret: (name: string) => string | undefined;
  waitBudgetMs: number;
  spendRefreshMs: number;
}

/**
 * Routing as the worker wires it: one API client per deployment, built on first use and rebuilt when a reload
 * changes the deployment (its base URL, key reference or Azure shape); the tenant spend cache over the ledger.
 */
export function wireRouting(w: RoutingWiring): RoutingDeps {
  const clients = new Map<string, { spec: string; client: ChatClient }>();
  const spend = new TenantSpend({
    read: (tenant, dayStart, monthStart) => w.store.tenantSpend(tenant, dayStart, monthStart),
    refreshMs: w.spendRefreshMs,
    clock: Date.now,
  });
  return {
    table: () => w.routes.current(),
    clientFor(target: Target) {
      const spec = JSON.stringify(target.spec ?? {});
      const known = clients.get(target.deployment);
      if (known?.spec === spec) return known.client;
      const d = target.spec;
      const keyName = d?.api_key_env;
      const apiKey = keyName === undefined ? w.defaults.apiKey : w.secret(keyName);
      if (apiKey === undefined || apiKey === "") {
        throw new RangeError(`deployment ${target.deployment}: environment variable ${keyName} is not set`);
      }
      const client = createChatClient({
        apiKey,
        baseURL: d?.base_url ?? w.defaults.baseURL,
        organization: w.defaults.organization,
        ...(d?.azure && { azure: { deployment: d.azure.deployment, apiVersion: d.azure.api_version } }),
      });
      clients.set(target.deployment, { spec, client });
      return client;
    },
    waitBudgetMs: (target) => target.spec?.wait_budget_ms ?? w.waitBudgetMs,
    prices: () => w.prices,
    budgetOf: (tenant) => (w.budgets === undefined ? undefined : budgetOf(w.budgets, tenant)),
    tenantSpend: (tenant) => spend.of(tenant),
    charge: (tenant, usd) => spend.charge(tenant, usd),
    clock: Date.now,
  };
}
