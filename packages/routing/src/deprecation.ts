import type { Deprecation, RouteTable } from "./route-table.ts";

/** Traffic on a model this close to its retirement is counted and alerted on. */
export const RETIRING_WINDOW_DAYS = 30;
const DAY_MS = 86_400_000;

export type DeprecationState =
  | { state: "active" }
  | { state: "retiring"; daysLeft: number; deprecation: Deprecation }
  | { state: "retired"; deprecation: Deprecation };

/** Where a model stands on `now`: its retirement day (UTC) is the first day it no longer serves. */
export function deprecationState(table: RouteTable, model: string, now: number): DeprecationState {
  const deprecation = table.deprecations[model];
  if (deprecation === undefined) return { state: "active" };
  const retiresAt = Date.parse(`${deprecation.retires}T00:00:00Z`);
  if (now >= retiresAt) return { state: "retired", deprecation };
  const daysLeft = Math.ceil((retiresAt - now) / DAY_MS);
  return daysLeft <= RETIRING_WINDOW_DAYS
    ? { state: "retiring", daysLeft, deprecation }
    : { state: "active" };
}
