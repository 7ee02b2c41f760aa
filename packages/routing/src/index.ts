export { chooseVariant, hash32 } from "./choose-variant.ts";
export { type DeprecationState, deprecationState, RETIRING_WINDOW_DAYS } from "./deprecation.ts";
export { type DeploymentSignal, FALLBACK_REASONS, type FallbackReason, fallbackReason } from "./fallback.ts";
export { DEFAULT_DEPLOYMENT, type Resolution, resolveRoute, type Target } from "./resolve-route.ts";
export { type ReloadOutcome, RouteSource, type RouteSourceOptions, readRouteFile } from "./route-source.ts";
export {
  type Deployment,
  type Deprecation,
  EMPTY_ROUTE_TABLE,
  parseRouteTable,
  type Route,
  type RouteTable,
  RouteTableError,
  type Variant,
} from "./route-table.ts";
