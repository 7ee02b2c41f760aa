import type { SearchHit } from "./vector-store.ts";

/** How the retrieved context message starts: guardrails check what follows it as data, not instructions. */
export const CONTEXT_HEADING = "Context from the tenant's documents";

/**
 * The retrieved chunks as one system message, each headed by its source, so the model can say where an answer
 * came from and the reply's `sources` match what it was given.
 */
export function contextMessage(hits: readonly SearchHit[]): { role: "system"; content: string } {
  const parts = hits.map((h) => `[source: ${h.document} #${h.chunk}]\n${h.text}`);
  return {
    role: "system",
    content: `${CONTEXT_HEADING} (answer from it when it is relevant, and name the source):\n\n${parts.join("\n\n")}`,
  };
}
