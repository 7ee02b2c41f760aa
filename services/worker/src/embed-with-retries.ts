import type { Priority } from "@chatq/contracts";
import type { EmbeddingClient } from "@chatq/llm";
import { type Embed, embeddingBatches } from "@chatq/retrieval";
import { type ApiTask, callWithRetries, type RetryDeps } from "./answer-with-retries.ts";

export interface EmbedSettings {
  model: string;
  dimensions: number;
  /** Per call; see embeddingBatches. */
  maxInputs: number;
  maxTokens: number;
}

/**
 * Embeddings through the same account gate, model circuit, shared limiter (under the embedding model's own
 * RPM/TPM) and retry policy as chat calls. A batch that finally fails throws its LlmError.
 */
export function embedWithRetries(
  client: EmbeddingClient,
  deps: RetryDeps,
  settings: EmbedSettings,
  context: { priority: Priority; lease: AbortSignal; ids: ApiTask<never>["ids"] },
): Embed {
  return async (texts, tokens) => {
    const out: Float32Array[] = [];
    for (const [n, batch] of embeddingBatches(tokens, settings.maxInputs, settings.maxTokens).entries()) {
      const inputs = texts.slice(batch.start, batch.end);
      const called = await callWithRetries(
        {
          model: settings.model,
          priority: context.priority,
          lease: context.lease,
          ids: context.ids,
          weight: { promptTokens: batch.tokens, outputBudget: 0 },
          call: () =>
            client.embed({
              model: settings.model,
              inputs,
              dimensions: settings.dimensions,
              requestId: `${context.ids.requestId}:embed:${n}`,
              timeoutMs: deps.timeoutMs,
            }),
        },
        deps,
      );
      if (!called.ok) throw called.error;
      out.push(...called.answer.vectors);
    }
    return out;
  };
}
