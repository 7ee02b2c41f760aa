import type { Services } from "../setup/services.ts";
import { services } from "../setup/services.ts";
import { scenarioFor } from "./names.ts";

/** Names no other test uses: topics, consumer group, Postgres schema, Redis prefix. */
export function uniqueScenario(label: string) {
  return scenarioFor(label, services());
}
export type { Scenario } from "./names.ts";
export type { Services };
