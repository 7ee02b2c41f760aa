import { type ChatClientOptions, openaiSdk } from "./chat-client.ts";
import { classifyError } from "./classify-error.ts";
import { LlmError } from "./llm-error.ts";

export interface EmbeddingCall {
  model: string;
  inputs: readonly string[];
  /** Fewer dimensions than the model's own (text-embedding-3-* shorten without retraining). */
  dimensions?: number | undefined;
  /** Sent as X-Client-Request-Id. */
  requestId: string;
  timeoutMs: number;
}

export interface EmbeddingAnswer {
  /** One vector per input, in input order. */
  vectors: Float32Array[];
  usage: { prompt_tokens: number; total_tokens: number };
  headers: Headers;
  apiMs: number;
}

export interface EmbeddingClient {
  /** One attempt at POST /embeddings. Throws LlmError; retrying is the caller's policy. */
  embed(call: EmbeddingCall): Promise<EmbeddingAnswer>;
}

export function createEmbeddingClient(
  opts: ChatClientOptions,
  now: () => number = performance.now.bind(performance),
): EmbeddingClient {
  const sdk = openaiSdk(opts);
  return {
    async embed(call) {
      const started = now();
      try {
        const { data, response } = await sdk.embeddings
          .create(
            {
              model: call.model,
              input: [...call.inputs],
              ...(call.dimensions !== undefined && { dimensions: call.dimensions }),
            },
            { timeout: call.timeoutMs, maxRetries: 0, headers: { "X-Client-Request-Id": call.requestId } },
          )
          .withResponse();
        // The API answers in any order it likes in principle; `index` is what ties a vector to its input.
        const vectors = new Array<Float32Array>(call.inputs.length);
        for (const d of data.data) vectors[d.index] = Float32Array.from(d.embedding);
        if (data.data.length !== call.inputs.length || Array.from(vectors).includes(undefined as never)) {
          throw new LlmError("unknown", "the API answered a different number of embeddings than inputs", {
            headers: response.headers,
          });
        }
        return {
          vectors,
          usage: { prompt_tokens: data.usage.prompt_tokens, total_tokens: data.usage.total_tokens },
          headers: response.headers,
          apiMs: now() - started,
        };
      } catch (err) {
        throw classifyError(err);
      }
    },
  };
}
