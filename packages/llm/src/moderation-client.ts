import { type ChatClientOptions, openaiSdk } from "./chat-client.ts";
import { classifyError } from "./classify-error.ts";
import { countTextTokens } from "./estimate-tokens.ts";
import { LlmError } from "./llm-error.ts";

export interface ModerationCall {
  model: string;
  input: string;
  /** Sent as X-Client-Request-Id. */
  requestId: string;
  timeoutMs: number;
}

export interface ModerationAnswer {
  flagged: boolean;
  categories: Record<string, boolean>;
  category_scores: Record<string, number>;
  headers: Headers;
  /** The API reports no usage for moderations; this is the input's own count, what the limiter charges. */
  usage: { prompt_tokens: number };
  apiMs: number;
}

export interface ModerationClient {
  /** One attempt at POST /moderations. Throws LlmError; retrying is the caller's policy. */
  moderate(call: ModerationCall): Promise<ModerationAnswer>;
}

export function createModerationClient(
  opts: ChatClientOptions,
  now: () => number = performance.now.bind(performance),
): ModerationClient {
  const sdk = openaiSdk(opts);
  return {
    async moderate(call) {
      const started = now();
      try {
        const { data, response } = await sdk.moderations
          .create(
            { model: call.model, input: call.input },
            { timeout: call.timeoutMs, maxRetries: 0, headers: { "X-Client-Request-Id": call.requestId } },
          )
          .withResponse();
        const result = data.results[0];
        if (result === undefined) {
          throw new LlmError("unknown", "the moderation API answered no result", {
            headers: response.headers,
          });
        }
        return {
          flagged: result.flagged,
          categories: { ...result.categories } as Record<string, boolean>,
          category_scores: { ...result.category_scores } as Record<string, number>,
          headers: response.headers,
          usage: { prompt_tokens: countTextTokens("gpt-4o-mini", call.input) },
          apiMs: now() - started,
        };
      } catch (err) {
        throw classifyError(err);
      }
    },
  };
}
