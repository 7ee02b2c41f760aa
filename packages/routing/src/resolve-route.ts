import { chooseVariant } from "./choose-variant.ts";
import { deprecationState } from "./deprecation.ts";
import type { Deployment, RouteTable } from "./route-table.ts";

/** The worker's own deployment (OPENAI_BASE_URL and OPENAI_API_KEY): what a plain model name is sent to. */
export const DEFAULT_DEPLOYMENT = "default";

export interface Target {
  /** Deployment id: the limiter bucket, circuit name and `variant` label. */
  deployment: string;
  model: string;
  spec?: Deployment;
}

export type Resolution =
  | {
      ok: true;
      /** The route the request asked for; absent for a plain model name. */
      route?: string;
      /** The chosen variant's name (plain models: the deployment id). */
      variant: string;
      /** Tried in order: the chosen variant's deployment, then the route's fallbacks. */
      chain: Target[];
      /** Set when the request named a model that is retired (and routed to its replacement) or retiring. */
      deprecated?: { model: string; state: "retiring" | "retired"; replacement: string };
    }
  | { ok: false; code: "model_retired"; message: string };

/**
 * What a request for `requested` (a route name or a model id) is sent to. Pure: the same table, name and key give
 * the same answer on every replica. `stickyKey` is the conversation_id, or the request_id without one.
 */
export function resolveRoute(
  table: RouteTable,
  requested: string,
  stickyKey: string,
  now: number,
): Resolution {
  let name = requested;
  let deprecated: Extract<Resolution, { ok: true }>["deprecated"];
  const dep = deprecationState(table, requested, now);
  if (dep.state === "retired") {
    const { replacement, on_retired } = dep.deprecation;
    if (on_retired === "reject") {
      return {
        ok: false,
        code: "model_retired",
        message: `model "${requested}" was retired on ${dep.deprecation.retires}; use "${replacement}"`,
      };
    }
    name = replacement;
    deprecated = { model: requested, state: "retired", replacement };
  } else if (dep.state === "retiring") {
    deprecated = { model: requested, state: "retiring", replacement: dep.deprecation.replacement };
  }
  const route = table.routes[name];
  if (route === undefined) {
    const plain: Target = { deployment: DEFAULT_DEPLOYMENT, model: name };
    return { ok: true, variant: DEFAULT_DEPLOYMENT, chain: [plain], ...(deprecated && { deprecated }) };
  }
  const chosen = chooseVariant(route.variants, stickyKey);
  const ids = [chosen.deployment, ...route.fallbacks.filter((d) => d !== chosen.deployment)];
  const chain = [...new Set(ids)].map((id) => targetOf(table, id));
  return { ok: true, route: name, variant: chosen.name, chain, ...(deprecated && { deprecated }) };
}

function targetOf(table: RouteTable, id: string): Target {
  const spec = table.deployments[id];
  // The schema checks every reference, so a missing one is a bug in the caller's table, not the request's.
  if (spec === undefined) throw new RangeError(`route table refers to unknown deployment "${id}"`);
  return { deployment: id, model: spec.model, spec };
}
